import { ApiError } from "@kensa/client";
import { isKensaError } from "@kensa/contracts";
import { fileError } from "./cli-input.js";
import { lastTokenSource, tokenHint } from "./hub-client.js";

/**
 * How the CLI reports a failure: the code, the message (which names the file, flag or field),
 * and what to do where there is something to say; exit code 1.
 */
export function reportError(raw: unknown): void {
  const err = fileError(raw);
  const say = (line: string) => console.error(line);
  // the hub was never reached: the message says where the CLI looked
  if (err instanceof ApiError && err.code === "KENSA_ERR_NETWORK") say(`error: ${err.message}`);
  else if (isKensaError(err) || err instanceof ApiError) {
    say(`error ${err.code}: ${err.message}`);
    if (err.code === "KENSA_ERR_PORT_IN_USE") {
      say("  choose other ports with --port / --mqtt-port, stop the other server, or run `kensa demo`,");
      say("  which picks free ports; an external broker is configured with mqtt.url in the hub config");
    }
    const source = lastTokenSource();
    if (err instanceof ApiError && err.status === 401 && source) for (const l of tokenHint(source)) say(l);
  } else if (err instanceof SyntaxError) say(`error KENSA_ERR_FILE_JSON_INVALID: ${err.message}`);
  else say(`error: ${(err as Error)?.message ?? String(err)}`);
  process.exitCode = 1;
}
