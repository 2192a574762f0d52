--- The raising functions of the API that are verbs of ocibuild.ops as
-- they are: `push`, `pull`, `copy` and the store's methods, made here from
-- one table each (the verb, the names of its positional arguments), not
-- written out one by one. "opts" names a table whose keys join the
-- verb's args (with `store`, a folder relative to the script's, and
-- `on_event`, a callback of its own, for this call); "NAME..." takes the
-- rest of the arguments as a list. A verb's api_result, when it has one,
-- shapes what the caller gets.
local ops = require "ocibuild.ops"
local path = require "ocibuild.util.path"
local session = require "ocibuild.api.session"

local M = {}

local plain = session.plain

--- The API's own verbs.
M.API = {
  push = { "push", "src", "dest", "opts" },
  pull = { "pull", "ref", "opts" },
  copy = { "copy", "src", "dst", "opts" },
}

--- The store's methods.
M.STORE = {
  images = { "images", "opts" },
  tag = { "tag", "src", "names..." },
  rm = { "rm", "names", "opts" },
  inspect = { "inspect", "src", "opts" },
  export = { "export", "srcs", "dest", "opts" },
  import = { "import", "src", "opts" },
  prune = { "prune", "opts" },
  fsck = { "fsck" },
}

-- The context and args of one call of verb (names as in the tables
-- above) on ctx, with the arguments given. Returns ctx, args, or nil, msg.
local function call(ctx, names, ...)
  local verb, args, n = names[1], {}, select("#", ...)
  local c = ctx
  for i = 2, #names do
    local name, v = names[i], (select(i - 1, ...))
    if name == "opts" then
      if v ~= nil and type(v) ~= "table" then return nil, verb .. " options must be a table", "BADVALUE" end
      local o = plain(v) or {}
      if o.store ~= nil and type(o.store) ~= "string" then
        return nil, verb .. ": store must be a folder", "BADVALUE"
      end
      if o.store ~= nil or o.on_event ~= nil then
        c = ctx:with { store = o.store and path.abs(o.store, ctx.base), on_event = o.on_event,
          store_from = o.store and ("given as %s's store"):format(verb) }
      end
      o.store, o.on_event = nil, nil
      for k, x in pairs(o) do
        if args[k] == nil then args[k] = x end
      end
    elseif name:sub(-3) == "..." then
      args[name:sub(1, -4)] = plain { select(i - 1, ...) }
      return c, args
    else
      args[name] = plain(v)
    end
  end
  if n > #names - 1 then return nil, ("%s takes at most %d arguments"):format(verb, #names - 1), "BADVALUE" end
  return c, args
end

--- A raising function for the verb names describes, on the context
-- ctx_of(...) gives (the API's, or a store's): function(...) -> result.
function M.make(names, ctx_of)
  return function(first, ...)
    local shape = ops.module(names[1]).api_result -- loaded at the first call
    local ctx, rest = ctx_of(first, ...)
    local c, args = call(ctx, names, table.unpack(rest, 1, rest.n))
    if not c then error(args, 2) end
    local r, err = ops[names[1]](c, args)
    if r == nil then error(err, 2) end
    return shape and shape(r) or r
  end
end

local Store = {}
Store.__index = Store
for method, names in pairs(M.STORE) do
  Store[method] = M.make(names, function(self, ...) return self._ctx, table.pack(...) end)
end

--- A store object on ctx (its methods are M.STORE's).
function M.store(ctx)
  return setmetatable({ _ctx = ctx }, Store)
end

--- The API's verbs (M.API) on ctx, into the table api.
function M.add(api, ctx)
  for name, names in pairs(M.API) do
    api[name] = M.make(names, function(...) return ctx, table.pack(...) end)
  end
end

return M
