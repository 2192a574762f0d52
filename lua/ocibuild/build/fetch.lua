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

-- The most bytes an ADD of a URL takes (BuildKit has no bound): an
-- endless body is cut here, not when the disk is full.
M.MAX_SIZE = 4 << 30
-- The most redirects followed (Go's http client stops at 10 as well).
M.MAX_REDIRECTS = 10

-- One GET of target, its body (2xx) into the store as the blob checksum.
local function get(st, target, checksum, opts)
  local scheme, host = target:match("^(https?)://([^/?#]+)")
  if not scheme then return nil, ("%s is not an http(s) URL"):format(target), "BADURL" end
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.plain_http = scheme == "http"
  local c, err, code = require("ocibuild.registry.client").new(host:gsub("^[^@]*@", ""), o)
  if not c then return nil, err, code end
  local res
  res, err, code = c:send_retry({ method = "GET", url = target, follow = false, max = 64 << 10,
    into = { store = st.core, digest = checksum, size = M.MAX_SIZE } }, true)
  c:close()
  return res, err, code
end

--- Fetches url into the store st (opened), verified against checksum.
-- opts: the registry client's options (ca_file, insecure ...); allow:
-- nil, or a function(host, what) -> true | nil, msg, code that every
-- host is asked before a request goes to it (redirects included). At
-- most MAX_SIZE bytes are taken. Returns the blob's path.
function M.fetch(st, url, checksum, opts, allow)
  if not url:match("^https?://[^/?#]+") then return nil, ("%s is not an http(s) URL"):format(url), "BADURL" end
  local target, hops = url, 0
  while not st:has_blob(checksum) do
    local host = target:match("^%a+://([^/?#]+)"):gsub("^.*@", "")
    if allow then
      local ok, why, denied = allow(host, "ADD " .. url .. (target ~= url and " (redirected to " .. target .. ")"
        or ""))
      if not ok then return nil, why, denied end
    end
    local res, err, code = get(st, target, checksum, opts)
    if not res then
      if code == "BADDIGEST" then
        return nil, ("ADD %s: the file is not the checksum %s"):format(url, checksum), code
      elseif code == "TOOBIG" then
        return nil, ("ADD %s: the file is larger than the %d bytes ADD takes"):format(url, M.MAX_SIZE), code
      end
      return nil, ("ADD %s: %s"):format(url, err), code
    end
    local loc = res.status >= 300 and res.status < 400 and res.headers.location
    if loc then
      hops = hops + 1
      if hops > M.MAX_REDIRECTS then
        return nil, ("ADD %s: more than %d redirects"):format(url, M.MAX_REDIRECTS), "BADURL"
      end
      local scheme = loc:match("^(%a[%w+.-]*)://")
      if scheme and not scheme:lower():match("^https?$") then
        return nil, ("ADD %s: redirected to %s, not an http(s) URL"):format(url, loc), "BADURL"
      end
      target, err, code = require("ocibuild.registry.url").resolve(target, loc)
      if not target then return nil, ("ADD %s: %s"):format(url, err), code end
      if not target:match("^https?://[^/?#]+") then
        return nil, ("ADD %s: redirected to %s, not an http(s) URL"):format(url, target), "BADURL"
      end
    elseif res.status ~= 200 then
      return nil, ("ADD %s: the server answered HTTP %d"):format(url, res.status), "HTTP" .. res.status
    else
      break
    end
  end
  return st.core:blob_path(checksum)
end

return M
