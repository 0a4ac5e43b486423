"""One launcher runs any place on its own: ``python -m workbench.views.alone PLACE``."""
import pytest

from workbench.state.session import AppSession
from workbench.views import alone


@pytest.mark.parametrize("place", sorted(alone.PLACES))
def test_every_place_is_built_on_a_session_of_its_own(place, qtbot, dataset):
    session = AppSession(dataset)
    try:
        view = alone.make_place(place, session)
        qtbot.addWidget(view)
        module, name, _, then = alone.PLACES[place]
        assert type(view).__name__ == name and type(view).__module__ == module
        assert then is None or callable(getattr(view, then))
    finally:
        session.shutdown()


def test_the_launcher_names_the_places_it_knows(capsys):
    with pytest.raises(SystemExit):
        alone.main(["nowhere"])
    err = capsys.readouterr().err
    assert "invalid choice: 'nowhere'" in err and all(p in err for p in alone.PLACES)
