"""The builder shows what each layer costs (multiply-adds, activation memory) and the totals."""

import engine
from workbench.views.build.costs import count, size
from workbench.views.build.stack import COST_ROLE


def card_costs(window):
    model = window.build_tab.stack.model()
    return [model.index(i, 0).data(COST_ROLE) for i in range(model.rowCount())]


def expected(layer_defs):
    """Per card, from the engine's infer_shapes: the layers each definition expands to, summed."""
    rows = engine.infer_shapes(layer_defs)
    out = []
    for i in range(len(layer_defs)):
        mine = [r for r in rows if r["source_index"] == i]
        out.append(f"{count(sum(r['macs'] for r in mine))} MACs · {size(sum(r['act_bytes'] for r in mine))}")
    return out


def test_formats():
    assert [count(n) for n in (0, 999, 2560, 115200, 460800, 1_617_920)] == ["0", "999", "2.56k", "115k", "461k", "1.62M"]
    assert [size(n) for n in (40, 4608, 18432, 36864, 1_300_000)] == ["40 B", "4.5 KB", "18 KB", "36 KB", "1.24 MB"]


def test_cards_show_the_engines_costs_and_follow_edits(window):
    doc = window.doc
    assert [d["type"] for d in doc.layers] == ["input", "conv", "pool", "conv", "pool", "softmax"]
    shown = card_costs(window)
    assert shown == expected(doc.layers)
    # the demo network by hand: 24x24 positions x 8 filters x 5x5x1; conv and its relu each 24x24x8 floats
    assert shown[1] == "115k MACs · 36 KB" and shown[3] == "461k MACs · 18 KB"
    assert shown[2] == "0 MACs · 4.5 KB" and shown[5] == "2.56k MACs · 80 B"
    header = window.build_tab.stack_panel.header.text()
    assert "579k MACs forward, ~1.62M to train" in header and "(per example)" in header
    tip = window.build_tab.stack.model().index(1, 0).data(0x03)  # ToolTipRole
    assert "115,200 multiply-adds" in tip and "conv 18 KB + relu 18 KB" in tip

    doc.set_property(1, "filters", 16)                    # twice the filters: twice the cost
    shown = card_costs(window)
    assert shown == expected(doc.layers) and shown[1] == "230k MACs · 72 KB"
    assert shown[3] == "922k MACs · 18 KB"                # the next conv sees 16 channels
    header = window.build_tab.stack_panel.header.text()
    # 230,400 + 921,600 + 2,560 forward; a training step ~3x, but not the first layer's input gradient
    assert "1.15M MACs forward, ~3.23M to train" in header

    doc.set_property(3, "sx", 40)                         # invalid: a 40x40 filter on 12x12
    assert not doc.valid and "MACs forward" not in window.build_tab.stack_panel.header.text()
    assert card_costs(window)[3] == "" and card_costs(window)[1] == "230k MACs · 72 KB"


def test_names_in_the_header_are_plain_text(window):
    window.doc.load(window.doc.layers, "<i>mine</i>")
    assert "&lt;i&gt;mine&lt;/i&gt;" in window.build_tab.stack_panel.header.text()
