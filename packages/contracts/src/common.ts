import { type Static, type TSchema, Type } from "@sinclair/typebox";

const Ts = Type.String({ format: "date-time" });
const Id = Type.String({ minLength: 1 });

export const ErrorReply = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }),
});
export type ErrorReply = Static<typeof ErrorReply>;

export const List = <T extends TSchema>(item: T) => Type.Object({ items: Type.Array(item) });
