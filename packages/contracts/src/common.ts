import { type Static, type TSchema, Type } from "@sinclair/typebox";

/** An ISO-8601 time, as every contract writes times. */
export const Timestamp = Type.String({ format: "date-time" });
/** The id of a stored thing (project, device, run, …). */
export const EntityId = Type.String({ minLength: 1 });
/** Why something failed: a catalog code and a message. */
export const ErrorInfo = Type.Object({ code: Type.String(), message: Type.String() });
/** `null` first: Ajv's type coercion would otherwise turn a `null` in a request into 0 or "" */
export const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T, opts: object = {}) =>
  Type.Union([Type.Null(), t], opts);

/** value first, as the dataset schemas were written (`nullable` puts null first, for fields Ajv would coerce) */
export const orNull = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const ErrorReply = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }),
});
export type ErrorReply = Static<typeof ErrorReply>;

export const List = <T extends TSchema>(item: T) => Type.Object({ items: Type.Array(item) });
