// Draws a frame in place on a terminal: each redraw moves the cursor back up over the last frame
// and clears to the end of the screen. Every line is shorter than the terminal (build-frame.ts
// fits them) and the frame shorter than the screen, so the cursor arithmetic holds and the header
// never scrolls away. Lines written by anyone else meanwhile (warnings on stderr) are printed above
// the frame, which is then drawn again below them.

type Write = typeof process.stdout.write;

const HIDE_CURSOR = "\u001b[?25l";
const SHOW_CURSOR = "\u001b[?25h";

export class LiveFrame {
  private height = 0;
  private last: string[] = [];
  private readonly original = new Map<NodeJS.WriteStream, Write>();
  private readonly showCursor = () => this.raw(SHOW_CURSOR);

  constructor(private readonly stream: NodeJS.WriteStream = process.stdout, private readonly others: NodeJS.WriteStream[] = [process.stderr]) {}

  get size() { return { rows: this.stream.rows, columns: this.stream.columns }; }

  start(): void {
    for (const s of [this.stream, ...this.others]) {
      const write = s.write;
      this.original.set(s, write);
      s.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        this.erase();
        const ok = (write as (...a: unknown[]) => boolean).call(s, chunk, ...rest);
        this.paint(this.last);
        return ok;
      }) as Write;
    }
    this.raw(HIDE_CURSOR);
    process.once("exit", this.showCursor);
  }

  draw(lines: string[]): void {
    this.erase();
    this.paint(lines);
  }

  /** Leaves `lines` on the screen for good, then gives the streams back. */
  stop(lines: string[]): void {
    this.erase();
    this.raw(lines.length ? `${lines.join("\n")}\n` : "");
    this.last = [];
    for (const [s, write] of this.original) s.write = write;
    this.original.clear();
    this.raw(SHOW_CURSOR);
    process.off("exit", this.showCursor);
  }

  private paint(lines: string[]) {
    this.last = lines;
    this.height = lines.length;
    if (lines.length) this.raw(lines.join("\n"));
  }

  private erase() {
    if (this.height === 0) return;
    this.raw(`\r${this.height > 1 ? `\u001b[${this.height - 1}A` : ""}\u001b[J`);
    this.height = 0;
  }

  private raw(text: string) {
    const write = this.original.get(this.stream) ?? this.stream.write;
    (write as (s: string) => boolean).call(this.stream, text);
  }
}
