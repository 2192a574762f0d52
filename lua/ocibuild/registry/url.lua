--- URLs as the registry protocol needs them: Location headers resolved
-- against the request they answer (absolute, host-relative, relative, and
-- containerd's scheme-less "host/path"), query parameters appended while
-- keeping the ones already there (distribution's `_state`), and URLs shown
-- in messages without their query.
local M = {}

--- Percent-encodes s for a query value (RFC 3986 unreserved kept). Never fails.
function M.escape(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

--- scheme, authority, path-and-query of an absolute URL, or nil.
function M.split(u)
  local scheme, authority, rest = u:match("^(%a[%w+.-]*)://([^/?#]*)(.*)$")
  if not scheme then return nil end
  return scheme:lower(), authority, rest == "" and "/" or rest
end

--- host[:port] of an absolute URL, lower case, without the scheme's
-- default port (for telling whether two URLs name the same host), or nil.
function M.host(u)
  local scheme, authority = M.split(u)
  if not scheme then return nil end
  authority = authority:gsub("^.*@", ""):lower()
  local port = authority:match(":(%d+)$")
  if (scheme == "https" and port == "443") or (scheme == "http" and port == "80") then
    authority = authority:sub(1, -#port - 2)
  end
  return authority
end

--- true when two absolute URLs name the same host with the same scheme
-- (and port: an explicit default port is the same as none).
function M.same_origin(a, b)
  local sa, sb = M.split(a), M.split(b)
  return sa ~= nil and sa == sb and M.host(a) == M.host(b)
end

--- "scheme://authority" of an absolute URL, or nil.
function M.origin(u)
  local scheme, authority = M.split(u)
  return scheme and (scheme .. "://" .. authority)
end

-- RFC 3986 5.2.4: removes "." and ".." segments.
local function remove_dots(path)
  local out = {}
  for seg in (path .. "/"):gmatch("([^/]*)/") do
    if seg == ".." then
      if #out > 1 then out[#out] = nil end
    elseif seg ~= "." then
      out[#out + 1] = seg
    end
  end
  local s = table.concat(out, "/")
  if path:sub(-1) ~= "/" and s:sub(-1) == "/" and #s > 1 then s = s:sub(1, -2) end
  return s
end

--- Resolves a Location header value against base (the request's URL).
-- Returns the absolute URL, or nil, msg for a value that cannot be one.
function M.resolve(base, loc)
  if type(loc) ~= "string" or loc == "" then return nil, "empty Location", "BADURL" end
  if loc:find("[%s%c]") then return nil, ("bad Location %q"):format(loc), "BADURL" end
  local lscheme = M.split(loc)
  if lscheme then
    if lscheme ~= "http" and lscheme ~= "https" then
      return nil, ("bad Location %q: not an http or https URL"):format(loc), "BADURL"
    end
    return loc
  end
  local scheme, authority, path = M.split(base)
  if not scheme then return nil, ("bad base URL %q"):format(base), "BADURL" end
  if loc:sub(1, 2) == "//" then return scheme .. ":" .. loc end
  if loc:sub(1, 1) == "/" then return scheme .. "://" .. authority .. loc end
  -- containerd's third form: the registry's own host, without a scheme
  if loc:sub(1, #authority + 1) == authority .. "/" then return scheme .. "://" .. loc end
  if loc:sub(1, 1) == "?" then return scheme .. "://" .. authority .. path:gsub("%?.*$", "") .. loc end
  local dir = path:gsub("[?#].*$", ""):match("^(.*/)") or "/"
  local rel, query = loc:match("^([^?]*)(.*)$")
  return scheme .. "://" .. authority .. remove_dots(dir .. rel) .. query
end

--- u with k=v added to its query (after any parameters already there).
function M.with_query(u, k, v)
  local frag = u:match("#.*$") or ""
  u = u:sub(1, #u - #frag)
  local sep = u:find("?", 1, true) and (u:sub(-1) == "?" and "" or "&") or "?"
  return u .. sep .. k .. "=" .. M.escape(v) .. frag
end

--- u without its query and fragment, for messages. Never fails.
function M.show(u)
  return (tostring(u):gsub("[?#].*$", ""))
end

return M
