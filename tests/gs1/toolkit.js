// GS1's digital-link.js (GS1DigitalLinkToolkit.js inside), as an independent
// judge of the Digital Link URIs tem writes. scripts/test installs it, pinned,
// into target/gs1-node; tests/it/api/gs1.rs runs this with NODE_PATH there.
//
// Usage: node toolkit.js validate|compress|decompress < URIs (one a line);
// one answer a line: valid / invalid / the URI / "error MESSAGE".
'use strict';
const { DigitalLink, Utils } = require('digital-link.js');

const op = process.argv[2];
const uris = require('fs').readFileSync(0, 'utf8').split('\n').filter(Boolean);
for (const uri of uris) {
  try {
    if (op === 'validate') {
      console.log(DigitalLink(uri).isValid() ? 'valid' : 'invalid');
    } else if (op === 'compress') {
      console.log(Utils.compressWebUri(uri));
    } else if (op === 'decompress') {
      console.log(Utils.decompressWebUri(uri));
    } else {
      throw new Error(`unknown operation ${op}`);
    }
  } catch (e) {
    console.log(`error ${String((e && e.message) || e).replace(/\n/g, ' ')}`);
  }
}
