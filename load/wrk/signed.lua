-- wrk script: GET the signed validation links listed in $SIGNED_LINKS (one path per line,
-- from `cargo xtask signed-links`), each thread from its own place in the list, so every
-- answer needs a verification of its own and no cache of one answer can stand in for it.
local links = {}
local at = 0

function init(args)
  for line in io.lines(os.getenv("SIGNED_LINKS")) do
    links[#links + 1] = line
  end
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16))
  at = math.random(#links)
end

function request()
  at = at % #links + 1
  return wrk.format("GET", links[at], { ["Host"] = "validar.localhost" })
end
