--- The distribution an image is built on, from /etc/os-release (or
-- /usr/lib/os-release): its ID and VERSION_ID qualify the purls of its
-- packages (distro=debian-12). Finds no packages.
local M = { name = "os" }

local MAX = 64 << 10

-- What a layer's catalog keeps of a file, by path (.dockerignore globs).
M.patterns = { { "etc/os-release", MAX }, { "usr/lib/os-release", MAX } }

function M.wants(path)
  if path == "etc/os-release" or path == "usr/lib/os-release" then return MAX end
end

local function unquote(v)
  local q = v:sub(1, 1)
  if (q == '"' or q == "'") and v:sub(-1) == q and #v >= 2 then
    v = v:sub(2, -2)
    if q == '"' then v = v:gsub("\\(.)", "%1") end
  end
  return v
end

--- {id=, version_id=, pretty_name=} of the text (into opts.ctx.os), and
-- no packages.
function M.parse(path, text, opts)
  local ctx = opts.ctx
  local os = { from = path }
  for line in text:gmatch("[^\n]+") do
    local k, v = line:match("^%s*([%u_]+)=(.*)$")
    if k == "ID" or k == "VERSION_ID" or k == "PRETTY_NAME" then os[k:lower()] = unquote(v) end
  end
  -- /etc/os-release wins over /usr/lib/os-release, whichever is seen first
  if os.id and not (ctx.os and ctx.os.from == "etc/os-release" and path ~= "etc/os-release") then ctx.os = os end
  return {}
end

return M
