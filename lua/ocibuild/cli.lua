--- The command line: global options, then one subcommand module
-- (ocibuild.cmd.<name>) that returns true, or nil, message, exit code.
-- Failures print "ocibuild: <message>"; usage errors exit 2.
local M = {}

M.COMMANDS = {
  { "run", "run a build script: ocibuild run FILE [name=value ...]" },
  { "build", "build a directory: ocibuild build DIR -t TAG [options]" },
  { "ls", "list what a directory puts into a layer, and why files are left out" },
  { "images", "list the images in the store" },
  { "gc", "remove unused blobs and abandoned temp files from the store" },
}

local USAGE = [[
usage: ocibuild [--store DIR] COMMAND [ARGS...]

Build OCI images from directories, without a daemon.

commands:
%s
options:
  --store DIR   the image store (default $OCIBUILD_STORE, else
                ${XDG_DATA_HOME:-$HOME/.local/share}/ocibuild/store)
  --help        this text; `ocibuild COMMAND --help` for a command
  --version     the version
]]

local function usage()
  local lines = {}
  for _, c in ipairs(M.COMMANDS) do lines[#lines + 1] = ("  %-8s %s"):format(c[1], c[2]) end
  return USAGE:format(table.concat(lines, "\n"))
end

--- A usage failure: message and exit code 2.
function M.usage_error(msg, cmd)
  return nil, ("%s (see 'ocibuild %s--help')"):format(msg, cmd and (cmd .. " ") or ""), 2
end

--- Splits argv into options and operands following `spec`:
-- spec[name] = "flag" | "value" | "list"; short aliases in spec.alias.
-- Returns opts, operands or nil, msg, 2.
function M.getopt(argv, spec, cmd)
  local opts, rest = {}, {}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      for j = i + 1, #argv do rest[#rest + 1] = argv[j] end
      break
    elseif a:sub(1, 1) == "-" and #a > 1 then
      local name, inline = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:match("^%-%-(.+)$") or (spec.alias and spec.alias[a:sub(2)]) or a
      local kind = spec[name]
      if not kind then return M.usage_error(("unknown option %q"):format(a), cmd) end
      if kind == "flag" then
        if inline then return M.usage_error(("option --%s takes no value"):format(name), cmd) end
        opts[name] = true
      else
        local v = inline
        if not v then
          i = i + 1
          v = argv[i]
          if v == nil then return M.usage_error(("option %s needs a value"):format(a), cmd) end
        end
        if kind == "list" then
          opts[name] = opts[name] or {}
          table.insert(opts[name], v)
        else
          opts[name] = v
        end
      end
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  return opts, rest
end

local function known(name)
  for _, c in ipairs(M.COMMANDS) do
    if c[1] == name then return true end
  end
end

--- Runs the command line argv (a list). Returns the exit status.
function M.main(argv)
  local i, store = 1, nil
  while argv[i] and argv[i]:sub(1, 1) == "-" do
    local a = argv[i]
    if a == "--help" or a == "-h" then
      io.stdout:write(usage())
      return 0
    elseif a == "--version" then
      io.stdout:write("ocibuild ", require("ocibuild").VERSION, "\n")
      return 0
    elseif a == "--store" then
      store = argv[i + 1]
      if not store then
        io.stderr:write("ocibuild: option --store needs a value (see 'ocibuild --help')\n")
        return 2
      end
      i = i + 1
    elseif a:match("^%-%-store=") then
      store = a:sub(9)
    else
      io.stderr:write(("ocibuild: unknown option %q (see 'ocibuild --help')\n"):format(a))
      return 2
    end
    i = i + 1
  end
  local name = argv[i]
  if not name then
    io.stderr:write(usage())
    return 2
  end
  if not known(name) then
    io.stderr:write(("ocibuild: unknown command %q (see 'ocibuild --help')\n"):format(name))
    return 2
  end
  local rest = table.move(argv, i + 1, #argv, 1, {})
  local cmd = require("ocibuild.cmd." .. name)
  for _, a in ipairs(rest) do
    if a == "--help" or a == "-h" then
      io.stdout:write(cmd.HELP)
      return 0
    end
    if a == "--" then break end
  end
  local ok, err, code = cmd.run(rest, { store = store })
  if not ok then
    if err then io.stderr:write("ocibuild: ", tostring(err), "\n") end
    return code or 1
  end
  return 0
end

local function human(n)
  local units, u = { "B", "KiB", "MiB", "GiB", "TiB" }, 1
  local x = n
  while x >= 1024 and u < #units do
    x = x / 1024
    u = u + 1
  end
  return u == 1 and ("%d B"):format(n) or ("%.1f %s"):format(x, units[u])
end

--- Prints what a build produced: tags, manifest digest, size, outputs.
function M.print_result(r)
  local out = io.stdout
  for _, t in ipairs(r.tags or {}) do out:write("tag:      ", t.familiar, "\n") end
  out:write("digest:   ", r.digest, "\n")
  out:write("image id: ", r.image_id, "\n")
  out:write(("size:     %d (%s)\n"):format(r.size, human(r.size)))
  out:write("store:    ", r.path, "\n")
  if r.archive then out:write("archive:  ", r.archive, "\n") end
end

return M
