--- .dockerignore files read exactly as `docker build` reads them (BuildKit's
-- dockerignore.ReadAll), and compiled into a core matcher that remembers
-- where each pattern came from, so that an exclusion can be explained.
-- Matching itself is in C (core.matcher); this module only prepares the
-- strings: lines, comments, white space, '!' and path cleaning.
local core = require "ocibuild.core"

local M = {}

-- bufio.Scanner refuses a line of this many bytes or more (its 64 KiB buffer
-- must hold the line and its newline), and Docker then fails the build.
local MAX_LINE = 65536

local BOM = "\239\187\191"

-- White space beyond ASCII for Go's unicode.IsSpace, as UTF-8: U+0085, U+00A0,
-- U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
local WIDE_SPACES = { "\194\133", "\194\160", "\225\154\128", "\226\128\168", "\226\128\169",
  "\226\128\175", "\226\129\159", "\227\128\128" }
for c = 0x80, 0x8a do WIDE_SPACES[#WIDE_SPACES + 1] = "\226\128" .. string.char(c) end

local ASCII_SPACE = { [" "] = true, ["\t"] = true, ["\n"] = true, ["\v"] = true, ["\f"] = true,
  ["\r"] = true }

-- Length of the white-space rune starting (or, from_end, ending) s at i.
local function space_at(s, i, from_end)
  if i < 1 or i > #s then return nil end
  if ASCII_SPACE[s:sub(i, i)] then return 1 end
  for _, sp in ipairs(WIDE_SPACES) do
    local a = from_end and i - #sp + 1 or i
    if a >= 1 and s:sub(a, a + #sp - 1) == sp then return #sp end
  end
  return nil
end

--- Go's strings.TrimSpace (Unicode white space, invalid bytes kept). Never
-- fails.
function M.trim_space(s)
  local a, b = 1, #s
  while a <= b do
    local n = space_at(s, a)
    if not n then break end
    a = a + n
  end
  while b >= a do
    local n = space_at(s, b, true)
    if not n then break end
    b = b - n
  end
  return s:sub(a, b)
end

--- Go's filepath.Clean on Unix: the shortest equivalent path, by lexical
-- processing only ("" becomes "."). Never fails.
function M.clean(p)
  local rooted = p:sub(1, 1) == "/"
  local out, fixed = {}, 0 -- fixed: leading ".." elements that cannot go
  for seg in p:gmatch("[^/]+") do
    if seg == ".." then
      if #out > fixed then
        out[#out] = nil
      elseif not rooted then
        out[#out + 1] = ".."
        fixed = #out
      end
    elseif seg ~= "." then
      out[#out + 1] = seg
    end
  end
  local s = (rooted and "/" or "") .. table.concat(out, "/")
  return s == "" and "." or s
end

--- One pattern as ReadAll makes it from a line (comments aside): white space
-- trimmed, '!' kept apart, the rest cleaned and made relative. Returns the
-- pattern, or nil when nothing is left; never fails (a bad pattern is the
-- matcher's to reject).
function M.clean_pattern(line)
  local p = M.trim_space(line)
  if p == "" then return nil end
  local invert = p:sub(1, 1) == "!"
  if invert then p = M.trim_space(p:sub(2)) end
  if p ~= "" then
    p = M.clean(p)
    if #p > 1 and p:sub(1, 1) == "/" then p = p:sub(2) end
  end
  return invert and "!" .. p or p
end

local function where(file, line)
  return ("%s:%d: "):format(file or ".dockerignore", line)
end

--- Parses the text of a .dockerignore file (named filename in messages).
-- Returns a list of {pattern=, line=, file=} in file order; line is the
-- 1-based line number. Fails with nil, "FILE:LINE: ...", "BADPATTERN" on a
-- line of 64 KiB or more and on an exception with nothing after its '!'
-- (both fail `docker build`); other bad patterns are found by compile().
function M.parse(text, filename)
  local list, lineno, pos = {}, 0, 1
  while pos <= #text do
    local nl = text:find("\n", pos, true)
    local raw = text:sub(pos, (nl or #text + 1) - 1)
    pos = (nl or #text) + 1
    lineno = lineno + 1
    if #raw >= MAX_LINE then
      return nil, where(filename, lineno) .. "line too long (64 KiB or more)", "BADPATTERN"
    end
    raw = raw:gsub("\r$", "")
    if lineno == 1 and raw:sub(1, 3) == BOM then raw = raw:sub(4) end
    local p = raw:sub(1, 1) ~= "#" and M.clean_pattern(raw)
    if p then
      -- the matcher trims and cleans again: "!" and "!/" both end as "!"
      if M.clean(M.trim_space(p)) == "!" then
        return nil, where(filename, lineno) .. ("bad pattern '%s': illegal exclusion pattern: \"!\"")
          :format(M.trim_space(raw)), "BADPATTERN"
      end
      list[#list + 1] = { pattern = p, line = lineno, file = filename }
    end
  end
  return list
end

-- What Docker's reader accepts at most (it reads the file whole).
local MAX_FILE = 64 << 20

--- Reads and parses the .dockerignore file at path. A context's missing
-- file is an empty list, as for docker build; a file named on purpose
-- (no `context`) must exist. With `context` (the folder the file
-- belongs to), a symlink is followed only to a file inside that folder:
-- a context's ignore file never reads from elsewhere. Fails with nil, msg,
-- code: an I/O error ("EACCES: Permission denied: PATH", "EACCES"), or
-- parse()'s failures.
function M.read(path, context)
  if context then
    local real, _, code = core.realpath(path)
    if not real and code == "ENOENT" then return {} end
    local root = core.realpath(context)
    if real and root and real ~= path and real:sub(1, #root + 1) ~= root .. "/" then
      return nil, ("%s is a symlink to %s, outside the context %s: not read"):format(path, real, context), "ELOOP"
    end
  end
  local text, err, code = core.read_file(path, { max = MAX_FILE })
  if not text then
    if code == "ENOENT" and context then return {} end
    return nil, err, code
  end
  return M.parse(text, path)
end

--- Compiles the patterns of list (from parse() or read()) followed by the
-- extra patterns (strings, e.g. from --exclude), which are cleaned as a
-- .dockerignore line is (but never taken for comments) and, coming last,
-- win. Returns the core matcher and explain(why), which maps a matcher's
-- 1-based `why` to {pattern=, line=, file=} (line and file are nil for an
-- extra pattern, which has index= instead), and the list of patterns as
-- compiled. Fails with nil, "FILE:LINE: bad
-- pattern 'P': reason", "BADPATTERN" for a pattern docker build rejects.
function M.compile(list, extra)
  local pats, from = {}, {}
  for _, e in ipairs(list or {}) do
    pats[#pats + 1], from[#from + 1] = e.pattern, e
  end
  for i, x in ipairs(extra or {}) do
    local p = M.clean_pattern(x)
    if p then pats[#pats + 1], from[#from + 1] = p, { pattern = p, index = i } end
  end
  local m, err, code, bad = core.matcher(pats)
  if not m then
    local e = from[bad]
    local at = e and (e.line and where(e.file, e.line) or ("exclude[%d]: "):format(e.index)) or ""
    return nil, at .. err, code
  end
  return m, function(why) return from[why] end, pats
end

return M
