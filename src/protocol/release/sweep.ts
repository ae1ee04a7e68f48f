// How far lrc and hlrc (lrc/page_faults.ts, hlrc/faults.ts) read ahead; which pages a fault brings in is read_ahead.ts.

/** Most pages one fault brings up to date, or twins, ahead of the kernel. */
export const PREFETCH_PAGES = 64;

/** Most falsely shared pages a barrier brings up to date and opens ahead of the next phase (lrc/page_faults.ts, hlrc/faults.ts). */
export const REOPEN_PAGES = 1024;
