--- in-toto statements (v1), the unsigned form attestations take (BuildKit
-- stores them so), and the payload a DSSE envelope signs. Never fails.
local json = require "ocibuild.oci.json"

local M = {}

M.STATEMENT = "https://in-toto.io/Statement/v1"
M.PAYLOAD_TYPE = "application/vnd.in-toto+json"

local function subjects_of(subjects)
  local subs = json.array {}
  for i, s in ipairs(subjects) do
    local alg, hex = s.digest:match("^(%w+):(%x+)$")
    subs[i] = json.object { name = s.name, digest = json.object { [alg] = hex } }
  end
  return subs
end

--- A statement about subjects ({ {name=, digest="sha256:<hex>"} }),
-- with predicate (a JSON table) of predicate_type.
function M.statement(subjects, predicate_type, predicate)
  return json.object { _type = M.STATEMENT, subject = subjects_of(subjects), predicateType = predicate_type,
    predicate = predicate }
end

--- The canonical bytes of M.statement(subjects, predicate_type, p) for
-- the predicate p whose canonical bytes are `predicate` (a large
-- predicate is not encoded twice).
function M.encode(subjects, predicate_type, predicate)
  return ('{"_type":%s,"predicate":%s,"predicateType":%s,"subject":%s}'):format(json.encode(M.STATEMENT),
    predicate, json.encode(predicate_type), json.encode(subjects_of(subjects)))
end

return M
