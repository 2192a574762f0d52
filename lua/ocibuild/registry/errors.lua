--- What registry failures say: one line naming the host, the repository,
-- the user when there is one, and the fix. Codes: HTTP401 (credentials
-- missing or refused), HTTP403 (no access), HTTP<status> (another
-- answer), X509, NOTLS, CLIENTCERT, NOTREGISTRY, and the network's errno
-- names (ECONNREFUSED, ETIMEDOUT, ECONNRESET, UNKNOWNHOST). Never a secret:
-- credentials and tokens are not in anything these functions see.
local check = require "ocibuild.util.check"
local json = require "ocibuild.oci.json"
local url = require "ocibuild.registry.url"

local M = {}

local LOGIN = "run 'ocibuild login %s' (or pass --creds or --authfile)"

--- "CODE: message (detail)" of a registry's JSON error body, or nil.
function M.registry_error(body)
  local t = body and body:sub(1, 1) == "{" and json.decode(body)
  local e = type(t) == "table" and type(t.errors) == "table" and t.errors[1]
  if type(e) ~= "table" or type(e.code) ~= "string" then return nil end
  local s = e.code
  if type(e.message) == "string" and e.message ~= "" then s = s .. ": " .. e.message end
  if type(e.detail) == "string" and e.detail ~= "" then s = s .. " (" .. e.detail .. ")" end
  return check.show(s):sub(2, -2), e.code
end

--- The reason part of a core failure ("CODE: reason: url" -> "reason";
-- what follows the URL, such as how retries ended, is kept).
function M.reason(msg)
  local r = tostring(msg):gsub("^%u[%u%d]*: ", "")
  local head, tail = r:match("^(.-): %a[%w+.-]*://%S*(.*)$")
  if head then r = head .. tail end
  return r
end

--- An answer the operation did not expect: "<what>: HOST answered 400
-- (MANIFEST_INVALID: ...)", code HTTP<status>.
function M.status(host, res, what)
  local detail = M.registry_error(res.body)
  if not detail then
    local first = (res.body or ""):match("<title>%s*(.-)%s*</title>") or (res.body or ""):match("^[^\n]*") or ""
    detail = first ~= "" and check.show(first:sub(1, 120)):sub(2, -2) or nil
  end
  return nil, ("%s: %s answered HTTP %d%s%s"):format(what, host, res.status, detail and (" (" .. detail .. ")") or "",
    res.retried and (" (" .. res.retried .. ")") or ""), "HTTP" .. res.status
end

--- Credentials refused (by the registry, or by its token endpoint realm).
-- Those a login is checking (creds.login) are simply wrong: no advice to
-- log in.
function M.auth_failed(c, realm)
  local cr = c.creds
  local who = cr and cr.username
  return nil, ("authentication failed for %s at %s%s%s: %s"):format(
    who and check.show(who) or "the token", c.domain,
    realm and (" (the token endpoint " .. url.show(realm) .. " refused the credentials)") or "",
    cr and cr.source and not cr.login and (" (credentials from " .. cr.source .. ")") or "",
    cr and cr.login and "the user name or the password is wrong" or "check them, or " .. LOGIN:format(c.domain)),
    "HTTP401"
end

--- Credentials asked for, none found.
function M.auth_required(c, repo)
  return nil, ("%s wants credentials for %s and none were found: " .. LOGIN):format(c.domain, repo, c.domain), "HTTP401"
end

--- Access refused to a user who did authenticate (or to anonymous).
function M.denied(c, repo, action)
  local who = c.creds and c.creds.username
  if action == "push" then
    if not who then
      return nil, ("no push access to %s/%s without credentials: " .. LOGIN):format(c.domain, repo, c.domain), "HTTP403"
    end
    return nil, ("no push access to %s/%s as %s (Gitea: the owner must be your user or an organisation you belong to)")
      :format(c.domain, repo, check.show(who)), "HTTP403"
  end
  return nil, ("no pull access to %s/%s%s: it does not exist, or you may not read it%s"):format(c.domain, repo,
    who and (" as " .. check.show(who)) or "", who and "" or ("; if it is private, " .. LOGIN:format(c.domain))),
    "HTTP403"
end

--- An untrusted certificate, with the issuer and the three fixes.
function M.x509(c, detail, issuer)
  return nil, ("%s's certificate is not trusted%s (checked against %s: %s): pass --ca-file FILE, or put the CA "
    .. "into /etc/containers/certs.d/%s/ca.crt, or use --insecure"):format(c.domain,
      issuer and (" (issued by " .. check.show(issuer) .. ")") or "", c.trust, M.reason(detail), c.domain), "X509"
end

--- A failure of the connection itself.
function M.network(c, msg, code, target)
  local where = url.show(target or c.base or c.domain)
  local _, authority = url.split(target or "")
  local other = authority and url.host(target) ~= url.host("https://" .. (c.api or c.domain))
    and authority:gsub("^.*@", "")
  if code == "ECONNREFUSED" then
    if other then
      return nil, ("cannot connect to %s (named by %s): connection refused at %s"):format(other, c.domain, where),
        code
    end
    return nil, ("cannot connect to %s: connection refused at %s (is the registry running there?)")
      :format(c.domain, where), code
  elseif code == "UNKNOWNHOST" then
    return nil, ("unknown host %s: the name does not resolve (%s)"):format(c.domain, M.reason(msg)), code
  elseif code == "ETIMEDOUT" then
    return nil, ("%s was too slow (%s): %s; the limits are --timeout and --min-speed"):format(c.domain, where,
      M.reason(msg)), code
  elseif code == "ECONNRESET" then
    return nil, ("the connection to %s broke (%s): %s"):format(c.domain, where, M.reason(msg)), code
  elseif code == "NOTLS" then
    return nil, ("%s does not speak TLS (%s): pass --plain-http if it serves plain HTTP"):format(c.domain, where), code
  elseif code == "CAFILE" then
    return nil, ("cannot use the CA certificates of %s for %s: %s"):format(c.trust, c.domain, M.reason(msg)), code
  end
  return nil, ("%s: %s"):format(c.domain, msg), code
end

--- A client certificate missing or refused (detail: what the server said).
function M.client_cert(c, detail)
  local have = c.client_cert
  return nil, ("%s wants a TLS client certificate%s%s: put client.cert and client.key (PEM) into "
    .. "/etc/containers/certs.d/%s/ or ~/.config/containers/certs.d/%s/"):format(c.domain,
      have and (" and refused " .. have) or " and none was found",
      detail and (" (" .. check.show(detail):sub(2, -2) .. ")") or "", c.domain, c.domain), "CLIENTCERT"
end

--- A host whose /v2/ is not the registry API.
function M.not_registry(c, target, status)
  return nil, ("%s is not a registry: GET %s answered HTTP %d, not 200 or 401")
    :format(c.domain, url.show(target), status), "NOTREGISTRY"
end

return M
