-- Fuzz check for ocibuild.oci.json and ocibuild.oci.doc: the strict
-- decoder and the document readers never raise; a decoded value without
-- floats encodes canonically, and decoding that gives the same encoding.
local doc = require "ocibuild.oci.doc"
local json = require "ocibuild.oci.json"

local function has_float(v)
  if math.type(v) == "float" then return true end
  if type(v) == "table" and v ~= json.null then
    for _, x in pairs(v) do
      if has_float(x) then return true end
    end
  end
  return false
end

return function(s)
  local v = json.decode(s, "fuzz")
  if v ~= nil and not has_float(v) then
    local once = json.encode(v)
    local again = assert(json.decode(once, "encoded"), "the encoding does not decode")
    assert(json.encode(again) == once, "decode(encode(x)) encodes differently")
  end
  doc.read_index(s, "index")
  doc.read_manifest(s, "manifest")
  doc.read_config(s, "config")
  doc.read_any(s, "application/vnd.oci.image.index.v1+json", "any")
end
