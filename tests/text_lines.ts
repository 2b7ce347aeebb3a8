/**
 * Splits a text stream into lines (std's TextLineStream is on JSR, which
 * these machines cannot reach).
 *
 * @module
 */

/** A transform from text chunks to lines, without their line endings. */
export class TextLineStream extends TransformStream<string, string> {
  constructor() {
    let buf = "";
    super({
      transform(chunk, controller) {
        buf += chunk;
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          controller.enqueue(buf.slice(0, buf[i - 1] === "\r" ? i - 1 : i));
          buf = buf.slice(i + 1);
        }
      },
      flush(controller) {
        if (buf) controller.enqueue(buf);
      },
    });
  }
}
