// How a failed command ends: one line on stderr that says what to do, and an exit code a
// script can act on. Never a stack trace (set KVFLEET_DEBUG=1 to get one).
//   1  the command failed (a file that cannot be read or written, anything unexpected)
//   2  invalid fleet file or keys file (every problem listed, one per line)
//   3  a port is already in use, or may not be used
//   4  a target URL cannot be reached (replay: nothing listens there, or kvfleet behind Envoy is down)
// A tool's error may carry its own code: an Error with a numeric `exitCode` says its message as is.
import { FleetFileError } from '../config/load.js';

export interface CliFailure {
  readonly message: string;
  readonly exitCode: number;
}

const FILE_PROBLEMS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
};

interface SystemError {
  readonly code?: unknown;
  readonly path?: unknown;
  readonly dest?: unknown;
  readonly address?: unknown;
  readonly port?: unknown;
  readonly syscall?: unknown;
  readonly exitCode?: unknown;
}

export function describeFailure(e: unknown): CliFailure {
  if (e instanceof FleetFileError) return { message: `kvfleet: invalid fleet file, nothing started\n${e.message}`, exitCode: 2 };
  const err = (e !== null && typeof e === 'object' ? e : {}) as SystemError;
  const text = e instanceof Error ? e.message : String(e);
  if (e instanceof Error && typeof err.exitCode === 'number') return { message: `kvfleet: ${text.split('\n')[0] ?? text}`, exitCode: err.exitCode };
  // A port taken: Node's listen error carries address and port; grpc-js only says it in its message.
  const inUse = err.code === 'EADDRINUSE' ? `${String(err.address)}:${String(err.port)}` : /EADDRINUSE[^\]]*?\s(\S+:\d+)/.exec(text)?.[1];
  if (inUse !== undefined) {
    return {
      message: `kvfleet: ${inUse} is already in use (another kvfleet, Envoy or demo running?); stop it, or choose other ports (serve: --grpc-port, --admin-port, or server.* in the fleet file)`,
      exitCode: 3,
    };
  }
  if (err.code === 'EACCES' && err.syscall === 'listen') {
    return {
      message: `kvfleet: may not listen on ${String(err.address)}:${String(err.port)} (ports below 1024 need privileges); choose another port`,
      exitCode: 3,
    };
  }
  const problem = typeof err.code === 'string' ? FILE_PROBLEMS[err.code] : undefined;
  if (problem !== undefined) {
    const target = typeof err.dest === 'string' ? err.dest : typeof err.path === 'string' ? err.path : undefined;
    const where = target !== undefined ? `${target}: ` : '';
    const hint = err.code === 'ENOENT' && typeof err.dest === 'string' ? ' (does its directory exist?)' : '';
    return { message: `kvfleet: ${where}${problem}${hint}`, exitCode: 1 };
  }
  return { message: `kvfleet: ${text.split('\n')[0] ?? text}`, exitCode: 1 };
}
