--- The man page (ocibuild.1) and the bash completion, made from the CLI's
-- own command list (ocibuild.cli.COMMANDS) and each command's HELP text,
-- so that a command added later appears in both with no edit here. The
-- build runs this through scripts/gendoc.lua; nothing at run time does.
local cli = require "ocibuild.cli"

local M = {}

--- What a command's HELP says: {name=, summary=, help=, usage= (the
-- usage line's words after the command), options={{names={"-t",
-- "--tag"}, arg= (metavar or nil), choices= (list or nil)}}}.
function M.commands()
  local list = {}
  for _, c in ipairs(cli.COMMANDS) do
    local help = require("ocibuild.cmd." .. c[1]).HELP
    local cmd = { name = c[1], summary = c[2], help = help, options = {}, operands = {} }
    local usage = help:match("usage: ocibuild %S+ ?([^\n]*)") or ""
    local seen = {}
    local function add(names, arg, desc)
      if seen[names[#names]] then return end
      for _, n in ipairs(names) do seen[n] = true end
      -- "fixed|keep" as the metavar or first in the text: the values.
      local choices = arg and arg:find("|", 1, true) and arg or (desc and desc:match("^([%w.-]+|[%w.|-]+)"))
      local o = { names = names, arg = arg }
      if choices and choices:match("^[a-z][a-z0-9.|-]*$") then
        o.choices = {}
        for w in choices:gmatch("[^|]+") do o.choices[#o.choices + 1] = w end
      end
      cmd.options[#cmd.options + 1] = o
    end
    for line in help:gmatch("[^\n]+") do
      local short, long, rest = line:match("^%s+(%-%a), (%-%-[%w-]+)(.*)$")
      if not short then long, rest = line:match("^%s+(%-%-[%w-]+)(.*)$") end
      if long then
        local arg, desc = rest:match("^ (%S+)%s%s+(.*)$")
        if not arg then arg = rest:match("^ (%S+)%s*$") end
        if not arg then desc = rest:match("^%s+(.*)$") end
        if arg and arg:sub(1, 1) == "-" then arg = nil end
        add(short and { short, long } or { long }, arg, desc)
      end
    end
    for long, arg in usage:gmatch("%[(%-%-[%w-]+) ?([^%]%s]*)") do add({ long }, arg ~= "" and arg or nil) end
    for word in usage:gsub("%[%-[^%]]*%]", ""):gmatch("[^%s%[%]]+") do
      if word:match("^%u[%u%d_]*") and not word:find("=", 1, true) then cmd.operands[#cmd.operands + 1] = word end
    end
    list[#list + 1] = cmd
  end
  return list
end

-- roff: a backslash, a leading dot or quote, and minus signs.
local function roff(s)
  return (s:gsub("\\", "\\e"):gsub("%-", "\\-"):gsub("\n([.'])", "\n\\&%1"):gsub("^([.'])", "\\&%1"))
end

local ENVIRONMENT = {
  { "OCIBUILD_STORE", "the image store, when --store is not given" },
  { "XDG_DATA_HOME, HOME", "the default store is ${XDG_DATA_HOME:-$HOME/.local/share}/ocibuild/store" },
  { "SOURCE_DATE_EPOCH", "every mtime in a layer and the config's created time (default 0: 1970-01-01)" },
  { "OCIBUILD_JOBS", "compression threads (default: the online cores)" },
  { "OCIBUILD_KEY_PASSWORD", "the passphrase of a signing key (keygen, sign); empty: none" },
  { "COLUMNS, TERM", "the width of progress lines; TERM=dumb turns live lines off" },
}

--- The man page, in roff.
function M.man(version)
  local out = {}
  local function w(s) out[#out + 1] = s end
  w(('.TH OCIBUILD 1 "" "ocibuild %s" "User Commands"'):format(version))
  w(".SH NAME")
  w("ocibuild \\- build OCI images from directories, without a daemon")
  w(".SH SYNOPSIS")
  w(".B ocibuild")
  w("[\\fB\\-\\-store\\fR \\fIDIR\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR...]")
  w(".SH DESCRIPTION")
  w("ocibuild turns directories into OCI images, scripted in Lua (\\fBocibuild run\\fR build.lua) or in one")
  w("command (\\fBocibuild build\\fR DIR). Images go into a local OCI image layout (the store), which skopeo,")
  w("umoci and podman read, and can be written as OCI archives. Builds are reproducible: the same inputs")
  w("give the same digests. .dockerignore files apply exactly as docker build applies them.")
  w(".PP")
  w("Build scripts run in a sandbox: the ocibuild API, Lua's pure libraries, a read\\-only io, and paths")
  w("inside the script's folder only, since a repository's build script is data its reader may not have")
  w("written. \\fB\\-\\-unsafe\\fR lifts the sandbox for scripts you wrote.")
  w(".SH COMMANDS")
  for _, c in ipairs(M.commands()) do
    w(('.SS "ocibuild %s"'):format(c.name))
    w(roff(c.summary) .. ".")
    w(".PP")
    w(".nf")
    w(roff((c.help:gsub("\n+$", ""))))
    w(".fi")
  end
  w(".SH GLOBAL OPTIONS")
  w(".TP")
  w("\\fB\\-\\-store\\fR \\fIDIR\\fR")
  w("The image store, before or after the command.")
  w(".TP")
  w("\\fB\\-\\-help\\fR, \\fICOMMAND\\fR \\fB\\-\\-help\\fR")
  w("Usage, of ocibuild or of a command.")
  w(".TP")
  w("\\fB\\-\\-version\\fR")
  w("The version.")
  w(".SH ENVIRONMENT")
  for _, e in ipairs(ENVIRONMENT) do
    w(".TP")
    w("\\fB" .. roff(e[1]) .. "\\fR")
    w(roff(e[2]) .. ".")
  end
  w(".SH EXIT STATUS")
  w("0 on success; 1 on failure, after one line \\fBocibuild: \\fIwhat\\fB: \\fIwhy\\fR on standard error")
  w("(\\fBocibuild diff\\fR also exits 1, silently, when the images differ); 2 for a usage mistake.")
  w(".SH FILES")
  w(".TP")
  w("\\fI${XDG_DATA_HOME:\\-$HOME/.local/share}/ocibuild/store\\fR")
  w("The default store: oci\\-layout, index.json (one entry per tag) and blobs/sha256.")
  w(".SH EXAMPLES")
  w(".nf")
  w(roff([[ocibuild init                                 # a commented build.lua for this project
ocibuild run build.lua tag=site:1.0           # run it (sandboxed)
ocibuild build site -t site:dev -o site.tar   # one folder, one image, and an OCI archive
ocibuild ls --why site                        # what goes in, and why the rest is left out
ocibuild diff site:1 site:2                   # why two digests differ
skopeo copy oci-archive:site.tar docker://registry.example.com/site:dev]]))
  w(".fi")
  w(".SH SEE ALSO")
  w("\\fBskopeo\\fR(1), \\fBpodman\\fR(1), \\fBumoci\\fR(1)")
  return table.concat(out, "\n") .. "\n"
end

local function sh_words(list) return table.concat(list, " ") end

-- What a value or operand named `meta` completes to.
local function complete_for(meta, choices)
  if choices then return ('COMPREPLY=($(compgen -W "%s" -- "$cur"))'):format(sh_words(choices)) end
  if not meta then return nil end
  if meta:match("DIR") then return 'COMPREPLY=($(compgen -d -- "$cur"))' end
  if meta:match("FILE") then return 'COMPREPLY=($(compgen -f -- "$cur"))' end
  return "COMPREPLY=()"
end

--- The bash completion script.
function M.bash()
  local cmds = M.commands()
  local names = {}
  for i, c in ipairs(cmds) do names[i] = c.name end
  local out = {}
  local function w(s) out[#out + 1] = s end
  w("# bash completion for ocibuild, generated from its commands' help texts.")
  w("_ocibuild() {")
  w('  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" cmd="" i')
  w("  for ((i = 1; i < COMP_CWORD; i++)); do")
  w('    case "${COMP_WORDS[i]}" in')
  w("      --store) ((i++)) ;;")
  w("      -*) ;;")
  w('      *) cmd="${COMP_WORDS[i]}"; break ;;')
  w("    esac")
  w("  done")
  w('  if [[ "$prev" == --store ]]; then COMPREPLY=($(compgen -d -- "$cur")); return; fi')
  w('  if [[ -z "$cmd" ]]; then')
  w(('    COMPREPLY=($(compgen -W "%s --store --help --version" -- "$cur"))'):format(sh_words(names)))
  w("    return")
  w("  fi")
  w('  case "$cmd" in')
  for _, c in ipairs(cmds) do
    w(("    %s)"):format(c.name))
    local words, cases, seen = { "--help", "--store" }, {}, { ["--help"] = true, ["--store"] = true }
    for _, o in ipairs(c.options) do
      for _, n in ipairs(o.names) do
        if not seen[n] then words[#words + 1], seen[n] = n, true end
      end
      local action = o.arg and complete_for(o.arg, o.choices)
      if action then cases[#cases + 1] = ("        %s) %s; return ;;"):format(table.concat(o.names, "|"), action) end
    end
    if #cases > 0 then
      w('      case "$prev" in')
      for _, l in ipairs(cases) do w(l) end
      w("      esac")
    end
    local operand = complete_for(c.operands[1]) or "COMPREPLY=()"
    w(('      if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "%s" -- "$cur")); else %s; fi'):format(
      sh_words(words), operand))
    w("      ;;")
  end
  w("  esac")
  w("}")
  w("complete -F _ocibuild ocibuild")
  return table.concat(out, "\n") .. "\n"
end

return M
