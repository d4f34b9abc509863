import { describe, expect, it } from "vitest";
import { isValidDeviceId, parseDeviceTopic, topics } from "../src/mqtt/topics.js";

describe("topics", () => {
  it("round-trips every device channel", () => {
    for (const ch of ["presence", "desired", "reported", "events", "telemetry"] as const) {
      expect(parseDeviceTopic(topics[ch]("cam-1"))).toEqual({ deviceId: "cam-1", channel: ch });
    }
  });

  it("rejects wildcards, foreign roots and unknown channels", () => {
    expect(parseDeviceTopic("kensa/v1/devices/+/events")).toBeNull();
    expect(parseDeviceTopic("kensa/v1/devices/#")).toBeNull();
    expect(parseDeviceTopic("kensa/v2/devices/cam-1/events")).toBeNull();
    expect(parseDeviceTopic("kensa/v1/devices/cam-1/secrets")).toBeNull();
    expect(parseDeviceTopic("kensa/v1/devices/cam-1/events/extra")).toBeNull();
    expect(isValidDeviceId("Cam 1")).toBe(false);
    expect(isValidDeviceId("cam/1")).toBe(false);
  });
});
