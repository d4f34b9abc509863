import { KensaError } from "@kensa/contracts";
import type { MqttClient } from "mqtt";

/** Where Mosquitto's dynamic-security plugin takes commands, and where it answers. */
export const CONTROL_TOPIC = "$CONTROL/dynamic-security/v1";
export const RESPONSE_TOPIC = "$CONTROL/dynamic-security/v1/response";

/** One dynamic-security command; see Mosquitto's dynamic-security plugin documentation. */
export type DynsecCommand = { command: string } & Record<string, unknown>;
export interface DynsecResponse {
  command: string;
  error?: string;
  data?: Record<string, unknown>;
  correlationData?: string;
}

/**
 * Commands sent as one message with a correlation id, and their answers matched back to them:
 * the plugin answers every message of commands with one message of responses, in order.
 */
export class DynsecCalls {
  #waiting = new Map<string, { resolve: (r: DynsecResponse[]) => void; reject: (e: Error) => void }>();
  #seq = 0;

  /** Resolves with the answers, in order. Throws KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE. */
  async send(client: MqttClient, commands: DynsecCommand[], timeoutMs: number): Promise<DynsecResponse[]> {
    const id = `kensa-${++this.#seq}`;
    const answer = new Promise<DynsecResponse[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
    try {
      await client.publishAsync(
        CONTROL_TOPIC,
        JSON.stringify({ commands: commands.map((c) => ({ ...c, correlationData: id })) }),
        { qos: 1 },
      );
      return await answer;
    } catch (err) {
      this.#waiting.delete(id);
      answer.catch(() => {});
      throw new KensaError("KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE", `dynsec: ${(err as Error).message}`);
    }
  }

  /** A message on the response topic: settles the call it answers, if one waits. */
  answer(payload: Buffer): void {
    let responses: DynsecResponse[];
    try {
      responses = (JSON.parse(payload.toString("utf8")) as { responses?: DynsecResponse[] }).responses ?? [];
    } catch {
      return;
    }
    const id = responses[0]?.correlationData;
    const waiter = id ? this.#waiting.get(id) : undefined;
    if (!id || !waiter) return;
    this.#waiting.delete(id);
    waiter.resolve(responses);
  }

  /** Fails every call still waiting (the connection closed). */
  failAll(err: Error): void {
    for (const w of this.#waiting.values()) w.reject(err);
    this.#waiting.clear();
  }
}

/** Throws KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE for the first answer with an error not tolerated. */
export function checkResponses(responses: DynsecResponse[], item: string, tolerated: string[]): void {
  const bad = responses.find((r) => r.error && !tolerated.includes(r.error));
  if (bad) {
    throw new KensaError(
      "KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE",
      `dynsec refused ${bad.command} for ${item}: ${bad.error}`,
      {
        command: bad.command,
        error: bad.error,
      },
    );
  }
}
