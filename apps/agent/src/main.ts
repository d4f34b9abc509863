import { runAgentCli } from "./cli.js";
import { Logger } from "./logger.js";

process.on("unhandledRejection", (err) => {
  new Logger().error("unhandled rejection; exiting", { err, stack: (err as Error)?.stack });
  process.exit(1);
});

// exit explicitly: ONNX Runtime's thread pool must not keep a stopped agent alive
runAgentCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    new Logger().error("agent crashed", { err, stack: (err as Error)?.stack });
    process.exit(1);
  },
);
