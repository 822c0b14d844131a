// pcadm failures carry ipvsadm's exit status (ipvsadm.c): 2 for bad arguments
// (fail(2, ...)), 255 for "no command" (tryhelp_exit(argv[0], -1)), option-parser errors
// and refused operations (the command returns -1 after printing ipvs_strerror()).
export class PcadmError extends Error {
  override readonly name = 'PcadmError';
  constructor(readonly exitCode: number, message: string) {
    super(message);
  }
}

export const EXIT_BAD_ARGUMENT = 2;
export const EXIT_FAILED = 255;
export const TRY_HELP = "Try `pcadm -h' or 'pcadm --help' for more information.";
