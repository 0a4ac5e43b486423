// Train the ConvNetJS MNIST demo network in node for a few seconds and print examples/s.
// Used by `python -m engine bench --compare convnetjs` when convnetjs is installed
// (npm install --no-save convnetjs@0.3.0). Input: random 24x24 volumes.
const convnetjs = require('convnetjs');
const seconds = parseFloat(process.argv[2] || '5');
const batch = parseInt(process.argv[3] || '20');
const defs = [{type: 'input', out_sx: 24, out_sy: 24, out_depth: 1},
  {type: 'conv', sx: 5, filters: 8, stride: 1, pad: 2, activation: 'relu'},
  {type: 'pool', sx: 2, stride: 2},
  {type: 'conv', sx: 5, filters: 16, stride: 1, pad: 2, activation: 'relu'},
  {type: 'pool', sx: 3, stride: 3},
  {type: 'softmax', num_classes: 10}];
const net = new convnetjs.Net();
net.makeLayers(defs);
const trainer = new convnetjs.Trainer(net, {method: 'adadelta', batch_size: batch, l2_decay: 0.001, eps: 1e-6});
const vols = [];
for (let i = 0; i < 100; i++) {
  const v = new convnetjs.Vol(24, 24, 1, 0.0);
  for (let j = 0; j < v.w.length; j++) v.w[j] = Math.random() - 0.5;
  vols.push(v);
}
let n = 0;
const t0 = Date.now();
while ((Date.now() - t0) / 1000 < seconds) {
  trainer.train(vols[n % 100], n % 10);
  n++;
}
let dt = (Date.now() - t0) / 1000;
const train = n / dt;
n = 0;
const t1 = Date.now();
while ((Date.now() - t1) / 1000 < seconds / 2) { net.forward(vols[n % 100], false); n++; }
dt = (Date.now() - t1) / 1000;
console.log(JSON.stringify({train: train, infer: n / dt}));
