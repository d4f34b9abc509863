import {
  compile,
  Desired,
  deviceChannels,
  Event,
  EventAcks,
  isValidDeviceId,
  Presence,
  parseDeviceTopic,
  parseWith,
  Reported,
  Telemetry,
  TOPIC_ROOT,
  topics,
} from "@kensa/contracts";
import type { TSchema } from "@sinclair/typebox";
import fc from "fast-check";
import { codedSync, type FuzzTarget, fuzzProperty, isRefusal, timed } from "../harness.js";
import { mutatedJson } from "../mutations.js";
import { arbitraryOf } from "../schema-arbitrary.js";

const LABELS = ["ok", "scratch", "dent", "person", "helmet"];
const schemas: Array<[string, TSchema]> = [
  ["event", Event],
  ["telemetry", Telemetry],
  ["reported", Reported],
  ["desired", Desired],
  ["acks", EventAcks],
  ["presence", Presence],
];
const checkers = schemas.map(([name, schema]) => ({ name, schema, checker: compile(schema) }));
const valid = (schema: TSchema) => arbitraryOf(schema, { words: LABELS, maxItems: 3 });

/** What a device could put on the wire: text, JSON of anything, valid payloads broken in places. */
const wireText = (schema: TSchema): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ maxLength: 64 }),
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    mutatedJson(valid(schema)).map((v) => JSON.stringify(v)),
    valid(schema).map((v) => JSON.stringify(v).slice(0, -1)),
  );

/** The checker as the hub and agent use it: parse, check, and on refusal list issues. */
function judge(checker: ReturnType<typeof compile>, text: string): "not-json" | "valid" | "invalid" {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return "not-json";
  }
  if (checker.check(body)) return "valid";
  const issues = checker.issues(body);
  if (issues.length === 0 || !issues.every((i) => typeof i.path === "string" && typeof i.message === "string")) {
    throw new Error(`a refused payload must name its issues, got ${JSON.stringify(issues)}`);
  }
  return "invalid";
}

/** MQTT payload validators (packages/contracts): every device channel's schema, and topic parsing. */
export const mqttPayloadsTarget: FuzzTarget = {
  name: "mqtt-payloads",
  covers: "MQTT payload validators and topic parser (packages/contracts mqtt/)",
  properties: [
    ...checkers.map(({ name, schema, checker }) =>
      fuzzProperty(`${name}: any text is judged, refusals name their issues`, { budgetMs: 500, weight: 2 }, (b) =>
        fc.property(
          wireText(schema),
          timed(b, (text) => {
            judge(checker, text);
          }),
        ),
      ),
    ),
    ...checkers.map(({ name, schema, checker }) =>
      fuzzProperty(`${name}: a valid payload survives JSON and parseWith`, { budgetMs: 500 }, (b) =>
        fc.property(
          valid(schema),
          timed(b, (payload) => {
            const text = JSON.stringify(payload);
            if (judge(checker, text) !== "valid") throw new Error("a generated valid payload was refused");
            const parsed = codedSync(["KENSA_ERR_MQTT_PAYLOAD_INVALID"], () =>
              parseWith(schema, JSON.parse(text), "KENSA_ERR_MQTT_PAYLOAD_INVALID"),
            );
            if (isRefusal(parsed)) throw new Error(`parseWith refused a valid payload: ${parsed.message}`);
          }),
        ),
      ),
    ),
    fuzzProperty("parseWith: anything is a value or KENSA_ERR_MQTT_PAYLOAD_INVALID", { budgetMs: 500 }, (b) =>
      fc.property(
        fc.constantFrom(...checkers),
        fc.jsonValue({ maxDepth: 3 }),
        timed(b, (c, v) => {
          codedSync(["KENSA_ERR_MQTT_PAYLOAD_INVALID"], () => parseWith(c.schema, v, "KENSA_ERR_MQTT_PAYLOAD_INVALID"));
        }),
      ),
    ),
    fuzzProperty("topics: parsed back to the device and channel they were built from", { budgetMs: 500 }, (b) =>
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 80 }),
          fc
            .tuple(fc.string({ maxLength: 70 }), fc.constantFrom(...deviceChannels, "x", ""))
            .map(([id, ch]) => `${TOPIC_ROOT}/${id}/${ch}`),
          fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,62}$/).map((id) => topics.events(id)),
        ),
        timed(b, (topic) => {
          const parsed = parseDeviceTopic(topic);
          if (!parsed) return;
          if (!isValidDeviceId(parsed.deviceId) || !deviceChannels.includes(parsed.channel)) {
            throw new Error(`parsed an invalid device or channel from ${topic}`);
          }
          if (`${TOPIC_ROOT}/${parsed.deviceId}/${parsed.channel}` !== topic)
            throw new Error("topic did not round-trip");
        }),
      ),
    ),
  ],
};
