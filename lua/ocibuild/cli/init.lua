--- The command line: global options, then one subcommand module
-- (ocibuild.cmd.<name>) whose run(argv, g) parses argv, calls its verb
-- (ocibuild.ops) with g.ctx, and reports: it returns true, or nil,
-- message, code. Failures print "ocibuild: <message>" and exit with the
-- status M.EXIT gives the code: 2 for a usage mistake (a bad option or
-- operand, a flag's bad value, a reference or platform typed that cannot
-- be one), 1 for anything else; a command never exits 0 after an error.
-- An internal bug raises: the program prints its traceback and exits 70.
local check = require "ocibuild.util.check"

local M = {}

M.COMMANDS = {
  { "run", "run a build script: ocibuild run FILE [name=value ...]" },
  { "build", "build a directory: ocibuild build DIR -t TAG [options]" },
  { "ls", "list what a directory puts into a layer, and why files are left out" },
  { "images", "list the images in the store" },
  { "tag", "give an image of the store more names" },
  { "rm", "remove names (and unnamed images) from the store" },
  { "inspect", "show an image of the store as JSON" },
  { "export", "write images of the store into an OCI archive (or stdout)" },
  { "copy", "copy an image between the store, layouts, archives and registries" },
  { "import", "import an OCI archive, docker archive or OCI layout" },
  { "prune", "remove untagged images, unused blobs and abandoned temp files" },
  { "fsck", "check the whole store and say what is wrong" },
  { "push", "push an image to a registry: ocibuild push SRC [DEST]" },
  { "pull", "pull an image from a registry into the store: ocibuild pull REF" },
  { "login", "check and store credentials for a registry: ocibuild login HOST" },
  { "logout", "forget the credentials stored for a registry" },
  { "diff", "explain why two images differ: config, layers, files" },
  { "init", "write a commented build.lua for a kind of project" },
  { "keygen", "write an ECDSA P-256 key pair for signing images" },
  { "sign", "sign an image as cosign does: ocibuild sign --key KEY REF" },
  { "verify", "check an image's signatures: ocibuild verify --key PUB REF" },
  { "sbom", "print the SBOM attached to an image: ocibuild sbom REF" },
  { "provenance", "print the provenance attached to an image: ocibuild provenance REF" },
  { "gc", "the same as prune" },
}

local USAGE = [[
usage: ocibuild [--store DIR] COMMAND [ARGS...]

Build OCI images from directories, without a daemon.

commands:
%s
options:
  --store DIR   the image store (default $OCIBUILD_STORE, else
                ${XDG_DATA_HOME:-$HOME/.local/share}/ocibuild/store);
                accepted before or after the command
  --progress MODE  auto|tty|plain|json|quiet: what standard error shows
                while a command works; with json, its events and its
                failure (with its code) as JSON lines; accepted before or
                after the command
  --help        this text; `ocibuild COMMAND --help` for a command
  --version     the version
]]

local function usage()
  local lines = {}
  for _, c in ipairs(M.COMMANDS) do lines[#lines + 1] = ("  %-8s %s"):format(c[1], c[2]) end
  return USAGE:format(table.concat(lines, "\n"))
end

--- The one exit-code table: the failure codes (ocibuild.util.codes) of
-- usage mistakes exit 2; every other code exits 1; an internal bug (an
-- error raised) exits 70 with its traceback (src/main.c).
M.EXIT = { USAGE = 2, BADVALUE = 2, BADREF = 2, BADPLATFORM = 2, BADDOCKERFILE = 2 }

--- The exit status of a failure with code (ocibuild.util.codes).
function M.status(code)
  return M.EXIT[code] or 1
end

local function known(name)
  local names = {}
  for _, c in ipairs(M.COMMANDS) do
    if c[1] == name then return true end
    names[#names + 1] = c[1]
  end
  return false, check.suggest(name, names)
end

local function fail(msg, code)
  io.stderr:write("ocibuild: ", check.line(msg), "\n")
  return code
end

-- The options every command shares, accepted before or after it.
local GLOBAL = { "store", "progress" }

-- Takes the global options out of argv (anywhere before "--"). Returns
-- g, the rest, or nil, msg, code.
local function globals(argv)
  local g, rest, i = {}, {}, 1
  while i <= #argv do
    local a, taken = argv[i], false
    if a == "--" then
      table.move(argv, i, #argv, #rest + 1, rest)
      break
    end
    for _, name in ipairs(GLOBAL) do
      if a == "--" .. name then
        if argv[i + 1] == nil then return nil, ("option --%s needs a value"):format(name), "USAGE" end
        g[name], taken = argv[i + 1], true
        i = i + 1
      elseif a:sub(1, #name + 3) == "--" .. name .. "=" then
        g[name], taken = a:sub(#name + 4), true
      end
    end
    if not taken then rest[#rest + 1] = a end
    i = i + 1
  end
  return g, rest
end

--- Runs the command line argv (a list). Returns the exit status.
function M.main(argv)
  local g, rest = globals(argv)
  if not g then return fail(rest .. " (see 'ocibuild --help')", M.status("USAGE")) end
  local a = rest[1]
  if a == "--help" or a == "-h" then
    io.stdout:write(usage())
    return 0
  elseif a == "--version" then
    io.stdout:write("ocibuild ", require "ocibuild.util.version", "\n")
    return 0
  elseif a == nil then
    io.stderr:write(usage())
    return 2
  elseif a:sub(1, 1) == "-" then
    return fail(("unknown option %q (see 'ocibuild --help')"):format(a), M.status("USAGE"))
  end
  local is, near = known(a)
  if not is then
    return fail(("unknown command %q%s (see 'ocibuild --help')"):format(a,
      near and (" (did you mean %q?)"):format(near) or ""), M.status("USAGE"))
  end
  local args = table.move(rest, 2, #rest, 1, {})
  local cmd = require("ocibuild.cmd." .. a)
  for _, w in ipairs(args) do
    if w == "--help" or w == "-h" then
      io.stdout:write(cmd.HELP)
      return 0
    end
    if w == "--" then break end
  end
  -- loaded only here: `--version` and `--help` need neither (nor the store,
  -- the references and the JSON the context brings); what runs a build
  -- script (for `run`) loads only when one runs
  local context, progress = require "ocibuild.ops.context", require "ocibuild.cli.progress"
  g.ctx = context.new { store = g.store, scripts = function(...) return require("ocibuild.api.script").run(...) end }
  local ok, err, code
  if g.progress then
    -- every command reports through the one reporter --progress asks for:
    -- its events, its warnings, and in json mode its failure
    ok, err, code = progress.run(g.progress, a, function(rep)
      g.ctx = g.ctx:with { on_event = rep.on_event, warn = rep.warn }
      return cmd.run(args, g)
    end)
  else
    ok, err, code = cmd.run(args, g)
  end
  if ok then return 0 end
  local status = M.status(code)
  if err then
    -- a mistake in what the command was given says where its usage is
    -- (a Dockerfile's mistake is the file's, said at its line)
    if status == 2 and code ~= "BADDOCKERFILE" and not err:find("(see 'ocibuild ", 1, true) then
      err = ("%s (see 'ocibuild %s --help')"):format(err, a)
    end
    io.stderr:write("ocibuild: ", check.line(err), "\n")
  end
  -- a command whose 1 is an answer (diff: they differ) says trouble otherwise
  if cmd.TROUBLE and status == 1 and code ~= cmd.ANSWER then status = cmd.TROUBLE end
  return status
end

return M
