#!/usr/bin/env node
// `pcadm`: ipvsadm's command line over the Portcullis gRPC API. Same commands, options,
// output formats and exit codes (see src/cli/pcadm/); -R replays saved rules from stdin.
import { runPcadm } from './pcadm/main.js';
import { EXIT_FAILED } from './pcadm/errors.js';

runPcadm(process.argv.slice(2)).then((code) => { process.exitCode = code; }, () => { process.exitCode = EXIT_FAILED; });
