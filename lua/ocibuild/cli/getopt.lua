--- Command-line option parsing: long options (`--name value`,
-- `--name=value`), short aliases, flags, repeatable lists, `--` ending
-- options. Returns opts, operands, or nil, msg, "USAGE" (a usage error).
local M = {}

--- A usage failure: nil, the message (saying where the usage is) and
-- the code USAGE (exit 2).
function M.usage_error(msg, cmd)
  return nil, ("%s (see 'ocibuild %s--help')"):format(msg, cmd and (cmd .. " ") or ""), "USAGE"
end

--- Splits argv into options and operands following `spec`:
-- spec[name] = "flag" | "value" | "list"; short aliases in spec.alias.
function M.parse(argv, spec, cmd)
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
      if not kind or name == "alias" then return M.usage_error(("unknown option %q"):format(a), cmd) end
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

-- The codes of a failure caused by an operand that cannot be what it
-- must be: a reference or a platform that does not parse.
local BAD_OPERAND = { BADREF = true, BADPLATFORM = true }

--- A command's failure (msg, code): a usage error (exit 2) when code
-- says an operand typed on the command line is malformed, else exit 1.
-- Only for failures whose references and platforms all come from the
-- command line.
function M.fail(msg, code, cmd)
  if BAD_OPERAND[code] then return M.usage_error(msg, cmd) end
  return nil, msg, 1
end

--- The KEY=VALUE words of a list flag (--label, --env, ...) as a table
-- (the later wins). Returns it, or nil, "bad --FLAG ...: expected
-- KEY=VALUE", "USAGE".
function M.pairs(list, flag)
  local t = {}
  for _, kv in ipairs(list or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if not k then return nil, ("bad --%s %q: expected KEY=VALUE"):format(flag, kv), "USAGE" end
    t[k] = v
  end
  return t
end

--- An integer option value, or nil (absent), or nil, msg for a bad one.
function M.integer(v, name)
  if v == nil then return nil end
  local n = math.tointeger(tonumber(v))
  if not n then return nil, ("--%s needs an integer, got %q"):format(name, v), "USAGE" end
  return n
end

return M
