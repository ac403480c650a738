// One SMTP reply taken whole from the front of a buffer (RFC 5321 §4.2:
// "NNN-" continues, "NNN " or a line shorter than four characters ends it).
// Shared by the test client and the soak's client.

/** The first complete reply's lines and what follows it, or undefined while it is incomplete. */
export function takeReply(buffer: string): { lines: string[]; rest: string } | undefined {
  const lines: string[] = [];
  let pos = 0;
  for (;;) {
    const nl = buffer.indexOf("\r\n", pos);
    if (nl < 0) return undefined;
    const line = buffer.slice(pos, nl);
    lines.push(line);
    pos = nl + 2;
    if (line.length < 4 || line[3] === " ") return { lines, rest: buffer.slice(pos) };
  }
}
