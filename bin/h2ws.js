#!/usr/bin/env node
// The h2ws command. Runs unchanged as `node bin/h2ws.js`, `deno run -A bin/h2ws.js` and
// `bun bin/h2ws.js` (after `npm install`, which builds dist/).
import { main } from '../dist/src/cli/main.js';

process.exit(await main(process.argv.slice(2)));
