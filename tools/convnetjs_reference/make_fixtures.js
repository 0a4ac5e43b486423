// Reference cases from ConvNetJS itself (npm convnetjs 0.3.0), written as JSON fixtures
// for tests/engine/test_convnetjs_reference.py. ConvNetJS is not shipped; to regenerate:
//   npm install --no-save convnetjs@0.3.0 && node tools/convnetjs_reference/make_fixtures.js
// With an argument (a snapshot the engine wrote) it instead prints ConvNetJS's outputs
// for that snapshot, for the "ConvNetJS loads what the engine writes" fixture.
const fs = require('fs');
const path = require('path');
const convnetjs = require('convnetjs');

// A seeded Math.random so that the fixtures are reproducible.
let seed = 12345;
Math.random = function () {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};

function inp(sx, sy, d) { return {type: 'input', out_sx: sx, out_sy: sy, out_depth: d}; }

function randVol(sx, sy, d) {
  const v = new convnetjs.Vol(sx, sy, d, 0.0);
  for (let i = 0; i < v.w.length; i++) v.w[i] = Math.random() * 2 - 1;
  return v;
}

function netOutputs(net, vols) {
  return vols.map(v => Array.from(net.forward(v, false).w));
}

function makeCase(name, defs, n, opts) {
  const net = new convnetjs.Net();
  net.makeLayers(JSON.parse(JSON.stringify(defs)));
  const L = net.layers;
  const inl = L[0];
  const last = L[L.length - 1];
  const vols = [];
  const labels = [];
  for (let i = 0; i < n; i++) {
    vols.push(randVol(inl.out_sx, inl.out_sy, inl.out_depth));
    if (last.layer_type === 'regression') {
      const t = [];
      for (let j = 0; j < last.out_depth; j++) t.push(Math.random() * 2 - 1);
      labels.push(t);
    } else {
      labels.push(Math.floor(Math.random() * last.out_depth));
    }
  }
  const snapshot = JSON.parse(JSON.stringify(net.toJSON()));
  const outputs = netOutputs(net, vols);
  const losses = vols.map((v, i) => { net.forward(v, false); return net.backward(labels[i]); });
  // backward() accumulated gradients; start training from zero gradients as ConvNetJS would
  net.getParamsAndGrads().forEach(pg => { for (let j = 0; j < pg.grads.length; j++) pg.grads[j] = 0; });
  const out = {name, layer_defs: defs, snapshot, inputs: vols.map(v => Array.from(v.w)),
               labels, outputs, losses};
  if (opts) {
    out.training = [];
    for (const trainerOpts of opts) {
      // makeLayers and copy the weights: the npm build's MaxoutLayer.fromJSON sizes its
      // switches by group_size instead of by output, which breaks its backward pass.
      const tnet = new convnetjs.Net();
      tnet.makeLayers(JSON.parse(JSON.stringify(defs)));
      const src = net.getParamsAndGrads();
      tnet.getParamsAndGrads().forEach((pg, k) => {
        for (let j = 0; j < pg.params.length; j++) pg.params[j] = src[k].params[j];
      });
      const trainer = new convnetjs.Trainer(tnet, trainerOpts);
      const costs = [];
      for (let rep = 0; rep < 2; rep++) {
        for (let i = 0; i < n; i++) costs.push(trainer.train(vols[i], labels[i]).cost_loss);
      }
      out.training.push({options: trainerOpts, updates: 2 * n / trainerOpts.batch_size,
                         costs, snapshot_after: JSON.parse(JSON.stringify(tnet.toJSON()))});
    }
  }
  return out;
}

if (process.argv.length > 2) {
  const snap = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const net = new convnetjs.Net();
  net.fromJSON(snap.snapshot);
  const vols = snap.inputs.map(w => {
    const l = net.layers[0];
    const v = new convnetjs.Vol(l.out_sx, l.out_sy, l.out_depth, 0.0);
    for (let i = 0; i < w.length; i++) v.w[i] = w[i];
    return v;
  });
  process.stdout.write(JSON.stringify({outputs: netOutputs(net, vols),
                                       reserialised: net.toJSON()}) + '\n');
  process.exit(0);
}

const smx = {type: 'softmax', num_classes: 3};
const decay = {l1_decay: 0.001, l2_decay: 0.01, batch_size: 3, eps: 1e-8};
const methods = [
  Object.assign({method: 'sgd', learning_rate: 0.1, momentum: 0.0}, decay),
  Object.assign({method: 'sgd', learning_rate: 0.05, momentum: 0.9}, decay),
  Object.assign({method: 'adagrad', learning_rate: 0.05}, decay),
  Object.assign({method: 'windowgrad', learning_rate: 0.05, ro: 0.9}, decay),
  Object.assign({method: 'adadelta', ro: 0.95}, decay, {eps: 1e-6}),
];
const cases = [
  makeCase('demo', [inp(24, 24, 1),
    {type: 'conv', sx: 5, filters: 8, stride: 1, pad: 2, activation: 'relu'},
    {type: 'pool', sx: 2, stride: 2},
    {type: 'conv', sx: 5, filters: 16, stride: 1, pad: 2, activation: 'relu'},
    {type: 'pool', sx: 3, stride: 3},
    {type: 'softmax', num_classes: 10}], 4,
    [{method: 'adadelta', batch_size: 2, l2_decay: 0.001, eps: 1e-6}]),
  makeCase('mixed', [inp(6, 6, 2),
    {type: 'conv', sx: 3, filters: 4, stride: 1, pad: 1, activation: 'tanh'},
    {type: 'pool', sx: 2, stride: 2},
    {type: 'fc', num_neurons: 6, activation: 'maxout', group_size: 2},
    {type: 'fc', num_neurons: 4, activation: 'sigmoid'},
    smx], 6, methods),
  makeCase('strided', [inp(7, 7, 3),
    {type: 'conv', sx: 3, filters: 3, stride: 2, pad: 1, activation: 'relu'},
    {type: 'pool', sx: 3, stride: 2, pad: 1},
    smx], 3, [methods[1]]),
  makeCase('lrn', [inp(3, 3, 5), {type: 'lrn', k: 1, n: 3, alpha: 0.5, beta: 0.75}, smx], 3, null),
  makeCase('svm', [inp(4, 4, 2), {type: 'fc', num_neurons: 5, activation: 'relu'},
    {type: 'svm', num_classes: 3}], 6, [methods[1]]),
  makeCase('regression', [inp(3, 3, 1), {type: 'fc', num_neurons: 4, activation: 'tanh'},
    {type: 'regression', num_neurons: 2}], 6, [methods[0]]),
];
const dir = path.join(__dirname, '..', '..', 'tests', 'engine', 'fixtures');
fs.mkdirSync(dir, {recursive: true});
fs.writeFileSync(path.join(dir, 'convnetjs_reference.json'), JSON.stringify(cases));
console.log('wrote', cases.length, 'cases');
