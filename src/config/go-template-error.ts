/** The one error the Go-template engine throws: a message and the offset into the template text it is about. */
export class GoTemplateError extends Error {
  constructor(
    message: string,
    /** Offset into the template text (UTF-16 units, as JavaScript strings index). */
    readonly offset: number,
  ) {
    super(message);
    this.name = "GoTemplateError";
  }
}
