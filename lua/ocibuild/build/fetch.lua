--- Files fetched by URL for a build (ADD https://... --checksum=...):
-- through the registry client's HTTP primitive (its trust settings for
-- the host, its retries), the body written into the store as a blob that
-- is published only when its bytes are the checksum. A blob already in
-- the store is not fetched again. Functions return nil, msg, code.
local digest = require "ocibuild.oci.digest"

local M = {}

--- The name a URL's file gets: the last part of its path, or
-- "__unnamed__" (as BuildKit names it).
function M.name(url)
  local path = url:match("^%a+://[^/?#]*([^?#]*)") or ""
  local base = path:match("([^/]+)/*$")
  if not base or base == "." then return "__unnamed__" end
  return base
end

--- Checks a checksum as ADD --checksum takes it: "sha256:<64 hex>".
function M.check(checksum)
  if type(checksum) ~= "string" or checksum == "" then return nil, "a checksum is required", "BADVALUE" end
  local alg = checksum:match("^(%w+):")
  if alg and alg ~= "sha256" then
    return nil, ("checksum %s: only sha256 checksums are supported"):format(checksum), "BADDIGEST"
  end
  if not digest.valid(checksum) then
    return nil, ("checksum %s is not sha256:<64 hex digits>"):format(checksum), "BADDIGEST"
  end
  return checksum
end

--- Fetches url into the store st (opened), verified against checksum.
-- opts: the registry client's options (ca_file, insecure ...). Returns
-- the blob's path.
function M.fetch(st, url, checksum, opts)
  local scheme, host = url:match("^(https?)://([^/?#]+)")
  if not scheme then return nil, ("%s is not an http(s) URL"):format(url), "BADURL" end
  if not st:has_blob(checksum) then
    local o = {}
    for k, v in pairs(opts or {}) do o[k] = v end
    o.plain_http = scheme == "http"
    local c, err, code = require("ocibuild.registry.client").new(host:gsub("^[^@]*@", ""), o)
    if not c then return nil, ("ADD %s: %s"):format(url, err), code end
    local res
    res, err, code = c:send_retry({ method = "GET", url = url, follow = true, max = 64 << 10,
      into = { store = st.core, digest = checksum } }, true)
    c:close()
    if not res then
      if code == "BADDIGEST" then
        return nil, ("ADD %s: the file is not the checksum %s"):format(url, checksum), code
      end
      return nil, ("ADD %s: %s"):format(url, err), code
    end
    if res.status ~= 200 then
      return nil, ("ADD %s: the server answered HTTP %d"):format(url, res.status), "HTTP" .. res.status
    end
  end
  return st.core:blob_path(checksum)
end

return M
