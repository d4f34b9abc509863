import type { SplitName } from "@kensa/contracts";

export const SPLITS: readonly SplitName[] = ["train", "val", "test"];

export const SPLIT_COLORS: Record<SplitName, string> = { train: "#0072B2", val: "#E69F00", test: "#009E73" };
