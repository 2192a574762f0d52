--- Go binaries: the build information the Go toolchain (1.18 and later)
-- embeds in an executable's .go.buildinfo: the Go version, the main
-- module and the modules it depends on (with their replacements), as
-- `go version -m` shows them. ELF only; a binary whose build information
-- is stored the pre-1.18 way is skipped. purl pkg:golang/<module>@<version>,
-- and the standard library as pkg:golang/stdlib@<go version>.
local purl = require "ocibuild.attest.purl"

local M = { name = "golang" }

local MAX = 256 << 20
local MAGIC = "\255 Go buildinf:"
local SEARCH = 64 << 10

function M.wants(path, info)
  local _ = path
  if info.mode & 73 ~= 0 and info.size >= 1024 and info.size <= MAX then return info.size end
end

-- A reader of integers of the ELF's class and byte order.
local function elf(data)
  if data:sub(1, 4) ~= "\127ELF" then return nil end
  local class, order = data:byte(5), data:byte(6)
  if (class ~= 1 and class ~= 2) or (order ~= 1 and order ~= 2) then return nil end
  local e = order == 1 and "<" or ">"
  local w = class == 2 and "I8" or "I4"
  local function get(fmt, at)
    if at < 1 or at + string.packsize(e .. fmt) - 1 > #data then return nil end
    return (string.unpack(e .. fmt, data, at))
  end
  return { class = class, get = get, word = w }
end

-- The file offsets where the build information may start: the
-- .go.buildinfo section, else the first writable segment.
local function starts(data, x)
  local g, w, is64 = x.get, x.word, x.class == 2
  local shoff, shentsize, shnum, shstrndx = g(w, is64 and 0x29 or 0x21), g("I2", is64 and 0x3B or 0x2F),
    g("I2", is64 and 0x3D or 0x31), g("I2", is64 and 0x3F or 0x33)
  local out = {}
  if shoff and shoff > 0 and shentsize and shnum and shstrndx and shstrndx < shnum then
    local function sh(i, field) -- field: 0 name, 4 offset
      local base = shoff + i * shentsize + 1
      if field == 0 then return g("I4", base) end
      return g(w, base + (is64 and 24 or 16))
    end
    local strtab = sh(shstrndx, 4)
    for i = 0, shnum - 1 do
      local name = sh(i, 0)
      if strtab and name and data:sub(strtab + name + 1, strtab + name + 13) == ".go.buildinfo" then
        out[#out + 1] = sh(i, 4)
      end
    end
  end
  local phoff = g(w, is64 and 0x21 or 0x1D)
  local phentsize, phnum = g("I2", is64 and 0x37 or 0x2B), g("I2", is64 and 0x39 or 0x2D)
  for i = 0, (phoff and phentsize and phnum or 0) - 1 do
    local base = phoff + i * phentsize + 1
    local ptype, flags = g("I4", base), g("I4", base + (is64 and 4 or 24))
    if ptype == 1 and flags and flags & 2 ~= 0 then
      out[#out + 1] = g(w, base + (is64 and 8 or 4))
      break
    end
  end
  return out
end

local function uvarint(s, i)
  local v, shift = 0, 0
  while i <= #s and shift < 63 do
    local b = s:byte(i)
    v = v | ((b & 0x7f) << shift)
    i = i + 1
    if b < 0x80 then return v, i end
    shift = shift + 7
  end
end

-- The Go version and module information at the header found at i.
local function strings_at(data, i)
  if i + 31 > #data or data:byte(i + 15) & 2 == 0 then return nil end -- pre-1.18: pointers, not read
  local p = i + 32
  local vlen, q = uvarint(data, p)
  if not vlen or q + vlen - 1 > #data then return nil end
  local version = data:sub(q, q + vlen - 1)
  local mlen, r = uvarint(data, q + vlen)
  if not mlen or r + mlen - 1 > #data then return nil end
  local mod = data:sub(r, r + mlen - 1)
  if #mod >= 33 and mod:byte(-17) == 10 then mod = mod:sub(17, -17) end
  return version, mod
end

local function find(data)
  local x = elf(data)
  if not x then return nil end
  for _, off in ipairs(starts(data, x)) do
    local from = off >= 0 and off < #data and off + 1 or #data + 1
    local i = from
    while i and i <= from + SEARCH do
      i = data:find(MAGIC, i, true)
      if i and (i - from) % 16 == 0 and i <= from + SEARCH then return strings_at(data, i) end
      if i then i = i + 1 end
    end
  end
end

local function modules(version, mod)
  local out, last = {}, nil
  for line in mod:gmatch("[^\n]+") do
    local f = {}
    for part in (line .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = part end
    if f[1] == "mod" or f[1] == "dep" then
      last = { type = "golang", name = f[2], version = f[3], main = f[1] == "mod" or nil, go = version }
      out[#out + 1] = last
    elseif f[1] == "=>" and last then
      last.replaced_by = { name = f[2], version = f[3] }
    end
  end
  out[#out + 1] = { type = "golang", name = "stdlib", version = version, go = version }
  return out
end

function M.parse(_, data, opts)
  if opts.cut then return {} end
  local version, mod = find(data)
  if not version then return {} end
  return modules(version, mod)
end

function M.purl(p)
  local ns, name = p.name:match("^(.*)/([^/]+)$")
  return purl.build { type = "golang", namespace = ns, name = name or p.name,
    version = p.version ~= "(devel)" and p.version or nil }
end

return M
