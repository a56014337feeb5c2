// Writes the feature x transport table of emulator/features.ts into README.md, between the `features` markers
// (`npm run readme --workspace iothub-emulator`, after a build). A unit test fails when the two disagree.
/* global __dirname */
const fs = require('node:fs');
const path = require('node:path');

const { featureTableMarkdown } = require('../dist/emulator/features.js');
const readme = path.join(__dirname, '..', 'README.md');
const text = fs.readFileSync(readme, 'utf8');
const start = '<!-- features:start -->';
const end = '<!-- features:end -->';
const from = text.indexOf(start);
const to = text.indexOf(end);
if (from < 0 || to < from) throw new Error(`README.md has no ${start} ... ${end} section`);
fs.writeFileSync(
  readme,
  `${text.slice(0, from + start.length)}\n${featureTableMarkdown()}\n${text.slice(to)}`,
);
