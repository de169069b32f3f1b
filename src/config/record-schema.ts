// zod schema of `record:` in the fleet file: opt-in recording of routed (and refused) requests
// to a JSON Lines file, one line per request at its end (router/recorder.ts), for
// `kvfleet replay`. Absent: nothing is recorded. Prompt text only with include_prompts.
import { z } from 'zod';

export const recordSchema = z
  .strictObject({
    /** The JSON Lines file; rotated to `<path>.1`, `<path>.2`, … Its directory must exist. */
    path: z.string().min(1, 'a file path'),
    /** Write the request body (prompt text, after redaction) too. Off: shapes, sizes and block keys only. */
    include_prompts: z.boolean().default(false),
    /** Rotate when the file would grow past this many MiB. */
    max_file_mb: z.number().positive().max(1_048_576).default(100),
    /** Files kept, the current one included: at most max_files × max_file_mb on disk. */
    max_files: z.number().int().min(1).max(1000).default(5),
    /** Share of requests recorded (0..1), drawn per request from its decision key (or request id). */
    sample_rate: z.number().min(0).max(1).default(1),
    /** Lines waiting to be written, MiB; past it new lines are dropped and counted (the writer is behind). */
    buffer_mb: z.number().positive().max(1024).default(8),
  })
  .optional();

export type RecordConfig = NonNullable<z.infer<typeof recordSchema>>;
