// moved to @kensa/vision/rules (the hub backtests with the same engine); kept so importers need no change
export * from "@kensa/vision/rules";
