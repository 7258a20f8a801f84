// Figures of a running process read from /proc (Linux): CPU, resident set, write syscalls. Load
// does not blur them the way it blurs wall-clock time, so the scale benchmark prints them per replica.
import { readFileSync } from 'node:fs'

/** CPU time of a process so far, in ms (utime + stime; USER_HZ = 100). */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/** Resident set of a process, in MiB. */
export function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'))
  return Number(line?.match(/\d+/)?.[0] ?? 0) / 1024
}

/** Write syscalls a process has made so far (send, write, writev). */
export function writeCalls(pid: number): number {
  const line = readFileSync(`/proc/${pid}/io`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('syscw:'))
  return Number(line?.match(/\d+/)?.[0] ?? 0)
}
