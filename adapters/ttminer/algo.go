package ttminer

import "strings"

// algo is one algorithm TT-Miner mines: the canonical name rigd uses (the
// lower-case of TT-Miner's own spelling), the spelling passed to -a, the
// coins TT-Miner lists for it, the device kinds and whether it builds a DAG.
type algo struct {
	name    string
	tt      string
	coins   []string
	devices []string
	dag     bool
}

var (
	nvidiaOnly = []string{"nvidia"}
	nvidiaAMD  = []string{"nvidia", "amd"}
)

// algos are the GPU algorithms of TT-Miner's README (2024.1.x "Supported algos
// in detail" and "Supported coins in detail") plus FishHash, which 2024.3
// added. AMD (OpenCL) runs only the algorithms without a large memory
// footprint: TT-Miner's README lists "Memory intensive algos do not work on
// AMD GPUs" as a known issue. CPU-only algorithms (Flex, SpectreX, Xelis)
// are left out: this adapter drives GPUs.
var algos = []algo{
	{name: "ethash", tt: "ETHASH", dag: true, devices: nvidiaOnly,
		coins: []string{"AKA", "ZIL", "BLACK", "EGEM", "GRAMS", "ETHO", "ALT", "AVS", "OCTA", "CLO", "EXP", "ETP", "ETHW", "ETHF", "REDE", "ELH", "EGAZ"}},
	{name: "etchash", tt: "ETCHASH", dag: true, devices: nvidiaOnly, coins: []string{"ETC"}},
	{name: "ubqhash", tt: "UBQHASH", dag: true, devices: nvidiaOnly, coins: []string{"UBQ"}},
	{name: "ethashb3", tt: "ETHASHB3", dag: true, devices: nvidiaOnly, coins: []string{"RTH"}},
	{name: "kawpow", tt: "KAWPOW", dag: true, devices: nvidiaOnly,
		coins: []string{"RVN", "NEOX", "ARL", "KAW", "PRCO", "SATO", "HVQ", "TTM", "ZELS", "MEWC", "VTE", "LAB", "CLORE", "PAPRY", "SATOX", "XNA", "FRENS"}},
	{name: "firopow", tt: "FIROPOW", dag: true, devices: nvidiaOnly, coins: []string{"FIRO"}},
	{name: "firopowscc", tt: "FIROPOWSCC", dag: true, devices: nvidiaOnly, coins: []string{"SCC"}},
	{name: "meowpow", tt: "MEOWPOW", dag: true, devices: nvidiaOnly, coins: []string{"MEOW"}},
	{name: "progpow", tt: "PROGPOW", dag: true, devices: nvidiaOnly, coins: []string{"EPIC", "SERO"}},
	{name: "progpowveil", tt: "PROGPOWVEIL", dag: true, devices: nvidiaOnly, coins: []string{"VEIL"}},
	{name: "progpowz", tt: "PROGPOWZ", dag: true, devices: nvidiaOnly, coins: []string{"ZANO", "EVOX"}},
	{name: "vprogpow", tt: "VPROGPOW", dag: true, devices: nvidiaOnly, coins: []string{"VBK"}},
	{name: "evrprogpow", tt: "EVRPROGPOW", dag: true, devices: nvidiaOnly, coins: []string{"EVR"}},
	{name: "fishhash", tt: "FISHHASH", dag: true, devices: nvidiaOnly, coins: []string{"IRON"}},
	{name: "ghostrider", tt: "GHOSTRIDER", devices: nvidiaOnly,
		coins: []string{"RTM", "BTRM", "BUT", "YERB", "JGC", "NAPI", "FITA", "BBC", "THOON", "GSPC", "LTR"}},
	{name: "mike", tt: "MIKE", devices: nvidiaOnly, coins: []string{"VKAX"}},
	{name: "sha256d", tt: "SHA256D", devices: nvidiaAMD, coins: []string{"BTC", "BCH"}},
	{name: "sha256dt", tt: "SHA256DT", devices: nvidiaAMD, coins: []string{"NOVO"}},
	{name: "sha512256d", tt: "SHA512256D", devices: nvidiaAMD, coins: []string{"RXD"}},
	{name: "sha3d", tt: "SHA3D", devices: nvidiaAMD, coins: []string{"KCN"}},
	{name: "sha3solidity", tt: "SHA3SOLIDITY", devices: nvidiaAMD, coins: []string{"ETI", "BNBTC"}},
	{name: "blake3", tt: "BLAKE3", devices: nvidiaAMD, coins: []string{"ALPH"}},
}

// algoAliases maps other spellings seen in TT-Miner's README and in miner
// managers' command lines to the canonical names.
var algoAliases = map[string]string{
	"sha3sol":         "sha3solidity",
	"progpowepic":     "progpow",
	"progpowsero":     "progpow",
	"progpowzano":     "progpowz",
	"daggerhashimoto": "ethash",
	"ethash2":         "ethash",
	"take2":           "ghostrider",
	"gr":              "ghostrider",
	"sha256":          "sha256d",
	"firopow-scc":     "firopowscc",
	"evrprogpow1":     "evrprogpow",
	"veriblock":       "vprogpow",
}

// lookupAlgo returns the table entry of an algorithm name (any case, any
// alias), or nil.
func lookupAlgo(name string) *algo {
	n := strings.ToLower(strings.TrimSpace(name))
	if c, ok := algoAliases[n]; ok {
		n = c
	}
	for i := range algos {
		if algos[i].name == n {
			return &algos[i]
		}
	}
	return nil
}

// coinAlgo returns the algorithm TT-Miner uses for a coin ticker it knows
// (any case), or nil.
func coinAlgo(coin string) *algo {
	c := strings.ToUpper(strings.TrimSpace(coin))
	for i := range algos {
		for _, k := range algos[i].coins {
			if k == c {
				return &algos[i]
			}
		}
	}
	return nil
}

func algoNames() string {
	names := make([]string, len(algos))
	for i := range algos {
		names[i] = algos[i].name
	}
	return strings.Join(names, ", ")
}
