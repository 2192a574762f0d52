--- The context every verb (ocibuild.ops) runs in, built once per process
-- (the CLI) or per API (a program, each build script): the store the
-- verbs use, the registry options in force, where events and warnings go,
-- the folder relative paths resolve against, and, for a sandboxed script,
-- what it may reach (the path check of ocibuild.api.sandbox and the
-- policy of ocibuild.ops.reach). A verb asks its ctx; it never builds
-- its own store location, registry options or sinks.
-- Functions return nil, msg, code on failure.
local check = require "ocibuild.util.check"
local core = require "ocibuild.core"
local events = require "ocibuild.events"
local options = require "ocibuild.registry.options"
local path = require "ocibuild.util.path"
local store_mod = require "ocibuild.store"

local M = {}
local Ctx = {}
Ctx.__index = Ctx

local FIELDS = { "store", "store_from", "base", "registry", "cache", "on_event", "warn", "allow", "policy",
  "scripts", "definition", "attest" }

--- A context. o: {store= (the store folder; default $OCIBUILD_STORE, else
-- the default one), store_from= (where that folder was given, for
-- messages; default "--store"), base= (the folder relative paths resolve against;
-- default the current one), registry= (the registry options in force, see
-- ocibuild.registry.options), cache= (the shared cache every save uses:
-- {from = {REF...}, to = {REF...}}, see ocibuild.registry.cache),
-- on_event= (function(ev), see
-- ocibuild.events), warn= (function(msg); default: as a warning event,
-- else nowhere), allow= (function(path, what) -> path | nil, msg: a
-- sandboxed script's check of every host path), policy= (a sandboxed
-- script's reach, ocibuild.ops.reach), scripts= (what runs a build script
-- for the run verb: ocibuild.api.script.run, given by the tier above,
-- since a script is calls of the API), definition= (what provenance names
-- as the definition of what is built: a script's {kind=, path=, digest=,
-- args=, context=}), attest= (the sbom, provenance and sign every save
-- takes unless it says otherwise)}.
function M.new(o)
  o = o or {}
  local self = setmetatable({}, Ctx)
  for _, k in ipairs(FIELDS) do self[k] = o[k] end
  -- the store folder as its giver meant it: relative to the current folder
  if self.store == "" then self.store = nil end
  if self.store then self.store = path.abs(self.store) end
  return self
end

--- A context like this one with some fields replaced (o as for M.new;
-- a store folder given here is taken as it is: make it absolute first).
function Ctx:with(o)
  local c = setmetatable({}, Ctx)
  for _, k in ipairs(FIELDS) do
    if o[k] ~= nil then c[k] = o[k] else c[k] = self[k] end
  end
  return c
end

--- Hands ev to the event sink, if any.
function Ctx:emit(ev)
  events.emit(self.on_event, ev)
end

--- Says a warning: to the warning sink, else as a `warning` event.
function Ctx:say(msg)
  if self.warn then
    self.warn(msg)
  else
    self:emit { type = "warning", message = msg }
  end
end

--- An on_event callback for work below the ops (a layer job, a registry
-- client): warnings go to the warning sink, the rest to the event sink.
function Ctx:sink()
  if not self.warn then return self.on_event end
  return events.with_warnings(self.warn, self.on_event)
end

--- The host path p names (relative to base), absolute and allowed by the
-- sandbox. Returns it (nil for nil), or nil, msg, "DENIED".
function Ctx:path(p, what)
  if p == nil then return nil end
  local abs = path.abs(p, self.base)
  if not self.allow then return abs end
  local ok, err = self.allow(abs, what)
  if not ok then return nil, err, "DENIED" end
  return abs
end

--- The store folder and where it came from (see ocibuild.store.default_dir).
function Ctx:store_dir()
  local dir, source = store_mod.default_dir(self.store)
  if not dir then return nil, source, "ENOENT" end
  if self.store and self.store_from then source = self.store_from end
  return path.abs(dir), source
end

--- Opens the store. opts: {create= (make it when missing: builds,
-- pulls, imports), missing= (what a read-only verb gets when there is no
-- store at all: this value instead of a failure; nothing is created),
-- image= (the image the verb looks for: a missing store is said as "no
-- image IMAGE: no store at DIR")}.
function Ctx:open_store(opts)
  opts = opts or {}
  local dir, source = self:store_dir()
  if not dir then return nil, source, "ENOENT" end
  local absent = not opts.create and not core.stat(dir)
  if absent and opts.missing ~= nil then return opts.missing end
  local st, err, code = store_mod.open(dir, { create = opts.create, source = source })
  if not st and absent and opts.image then
    return nil, ("no image %s: %s"):format(check.show(opts.image), err), code
  end
  return st, err, code
end

--- The store as ocibuild.locate opens it: a function(
-- may_be_missing) returning the store, opened once and created when
-- missing unless may_be_missing (then false and why when there is none).
function Ctx:opener()
  local st
  return function(may_be_missing)
    if st then return st end
    local err, code
    st, err, code = self:open_store { create = not may_be_missing, missing = may_be_missing and false or nil }
    if st == false then
      local dir, source = self:store_dir()
      st = nil
      return false, ("no store at %s (%s)"):format(dir, store_mod.describe(source))
    end
    return st, err, code
  end
end

--- The registry options for a transfer: those in force, with the
-- registry options `given` holds over them (a sandboxed script's policy
-- may refuse some), and the event sink. Returns a new table, or nil, msg,
-- code.
function Ctx:registry_options(given)
  local o, err, code = options.merge(self.registry, given, self.policy,
    function(p, what) return self:path(p, what) end)
  if not o then return nil, err, code end
  o.on_event = self:sink()
  return o
end

--- Whether the verb may reach the registry `domain` (a sandboxed script
-- reaches only those the user named). Returns true, or nil, msg, "DENIED".
function Ctx:reach(domain, what)
  if not self.policy then return true end
  return self.policy.registry(domain, what)
end

return M
