// A replica's sleep mode, as vLLM (--enable-sleep-mode, dev mode) and SGLang expose it:
//   POST /sleep?level=1 | /release_memory_occupation   → falling asleep (sleepMs), then asleep;
//                                                         answered when done; the KV cache is gone
//   POST /wake_up | /resume_memory_occupation           → waking (wakeMs), then awake; answered when done
//   GET  /is_sleeping                                   → {"is_sleeping": bool} (true until awake)
// While not awake the replica refuses inference with 503 (the engine has no weights on the GPU).
// Calls during a transition join it. Sleep and wake counts are in /sim/stats.
export type SleepPhase = 'awake' | 'falling_asleep' | 'asleep' | 'waking';

export class SleepMode {
  phase: SleepPhase = 'awake';
  sleeps = 0;
  wakes = 0;
  private transition: Promise<void> | undefined;

  constructor(
    private readonly sleepMs: number,
    private readonly wakeMs: number,
    /** The KV cache is discarded when the replica falls asleep. */
    private readonly dropCache: () => void,
  ) {}

  get sleeping(): boolean {
    return this.phase !== 'awake';
  }

  async sleep(): Promise<void> {
    if (this.transition !== undefined) await this.transition;
    if (this.phase === 'asleep') return;
    this.phase = 'falling_asleep';
    this.transition = this.after(this.sleepMs, () => {
      this.dropCache();
      this.phase = 'asleep';
      this.sleeps++;
    });
    await this.transition;
  }

  async wake(): Promise<void> {
    if (this.transition !== undefined) await this.transition;
    if (this.phase === 'awake') return;
    this.phase = 'waking';
    this.transition = this.after(this.wakeMs, () => {
      this.phase = 'awake';
      this.wakes++;
    });
    await this.transition;
  }

  private after(ms: number, then: () => void): Promise<void> {
    return new Promise<void>((resolve) => {
      setTimeout(() => {
        then();
        this.transition = undefined;
        resolve();
      }, ms);
    });
  }
}
