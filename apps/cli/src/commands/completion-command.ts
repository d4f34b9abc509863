import type { Command } from "commander";

/** Every command path of the CLI ("kensa dataset import") with the words that may follow it. */
export function completionWords(program: Command): Map<string, string[]> {
  const words = new Map<string, string[]>();
  const walk = (cmd: Command, path: string) => {
    const subs = cmd.commands.filter((c) => c.name() !== "help");
    const flags = cmd.options.flatMap((o) => [o.long, o.short].filter((f): f is string => !!f));
    words.set(path, [...subs.map((c) => c.name()), ...subs.flatMap((c) => c.aliases()), ...flags, "--help"]);
    for (const c of subs) {
      walk(c, `${path} ${c.name()}`);
      for (const a of c.aliases()) walk(c, `${path} ${a}`);
    }
  };
  walk(program, program.name());
  return words;
}

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/**
 * A bash completion script (zsh loads it through bashcompinit). Static: the command tree is
 * written into the script, so completing does not start Node. Words that are not a command
 * (flag values, file names) are skipped when finding where the cursor is; after a leaf
 * command, bash completes file names (`-o default`).
 */
export function bashCompletion(program: Command): string {
  const name = program.name();
  const fn = `_${name.replace(/[^A-Za-z0-9_]/g, "_")}_complete`;
  const table = [...completionWords(program)].map(([path, w]) => `  [${quote(path)}]=${quote(w.join(" "))}`);
  return [
    `# ${name} completion for bash and zsh: eval "$(${name} completion bash)" (zsh: ${name} completion zsh)`,
    `declare -gA ${fn}_words=(`,
    ...table,
    ")",
    `${fn}() {`,
    `  local cur="\${COMP_WORDS[COMP_CWORD]}" path=${quote(name)} w i`,
    "  for ((i = 1; i < COMP_CWORD; i++)); do",
    `    w="\${COMP_WORDS[i]}"`,
    `    [[ $w == -* ]] && continue`,
    `    [[ -n "\${${fn}_words["$path $w"]+x}" ]] && path="$path $w"`,
    "  done",
    // flags when a flag is being typed, else subcommands; none (a leaf): bash offers file names
    `  local words="" x`,
    `  for x in \${${fn}_words["$path"]}; do`,
    `    if [[ $cur == -* ]]; then [[ $x == -* ]] && words+=" $x"; else [[ $x != -* ]] && words+=" $x"; fi`,
    "  done",
    `  COMPREPLY=($(compgen -W "$words" -- "$cur"))`,
    "}",
    `complete -o default -F ${fn} ${name}`,
    "",
  ].join("\n");
}

/** `kensa completion bash|zsh`: prints the completion script to eval or save. */
export function registerCompletionCommand(program: Command): void {
  program
    .command("completion")
    .description('print a shell completion script: eval "$(kensa completion bash)" in ~/.bashrc (zsh: … zsh)')
    .argument("<shell>", "bash or zsh")
    .action((shell: string) => {
      if (shell === "bash") process.stdout.write(bashCompletion(program));
      else if (shell === "zsh") {
        process.stdout.write(`autoload -U +X bashcompinit && bashcompinit\n${bashCompletion(program)}`);
      } else {
        program.error(`kensa completion: unknown shell "${shell}" (bash or zsh)`, {
          code: "KENSA_ERR_VALIDATION",
          exitCode: 2,
        });
      }
    });
}
