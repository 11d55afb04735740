package xmrig

import "strings"

// algoAliases maps every spelling XMRig 6.x accepts (case-insensitively) to
// its canonical name. XMRig silently falls back to "auto" for a name it does
// not know, so the adapter refuses unknown names instead.
var algoAliases = map[string]string{
	"cryptonight/0": "cn/0", "cryptonight": "cn/0", "cn": "cn/0",
	"cryptonight/1": "cn/1", "cryptonight-monerov7": "cn/1", "cryptonight_v7": "cn/1",
	"cryptonight/2": "cn/2", "cryptonight-monerov8": "cn/2", "cryptonight_v8": "cn/2",
	"cryptonight/fast": "cn/fast", "cryptonight/msr": "cn/fast", "cn/msr": "cn/fast",
	"cryptonight/r": "cn/r", "cryptonight_r": "cn/r",
	"cryptonight/xao": "cn/xao", "cryptonight_alloy": "cn/xao",
	"cryptonight/half": "cn/half", "cryptonight/rto": "cn/rto", "cryptonight/rwz": "cn/rwz",
	"cryptonight/zls": "cn/zls", "cryptonight/double": "cn/double",
	"cryptonight/ccx": "cn/ccx", "cryptonight/conceal": "cn/ccx", "cn/conceal": "cn/ccx",
	"cryptonight-lite/0": "cn-lite/0", "cryptonight-lite": "cn-lite/0", "cryptonight-light": "cn-lite/0",
	"cn-lite": "cn-lite/0", "cn-light": "cn-lite/0", "cryptonight_lite": "cn-lite/0",
	"cryptonight-lite/1": "cn-lite/1", "cryptonight-aeonv7": "cn-lite/1", "cryptonight_lite_v7": "cn-lite/1",
	"cryptonight-heavy/0": "cn-heavy/0", "cryptonight-heavy": "cn-heavy/0", "cn-heavy": "cn-heavy/0",
	"cryptonight_heavy": "cn-heavy/0", "cryptonight-heavy/xhv": "cn-heavy/xhv", "cryptonight_haven": "cn-heavy/xhv",
	"cryptonight-heavy/tube": "cn-heavy/tube", "cryptonight-bittube2": "cn-heavy/tube",
	"cryptonight-pico": "cn-pico", "cn-pico/0": "cn-pico", "cryptonight-pico/trtl": "cn-pico",
	"cn-pico/trtl": "cn-pico", "cryptonight-turtle": "cn-pico", "cn-trtl": "cn-pico",
	"cryptonight-ultralite": "cn-pico", "cn-ultralite": "cn-pico", "cryptonight_turtle": "cn-pico", "cn_turtle": "cn-pico",
	"cryptonight-pico/tlo": "cn-pico/tlo", "cryptonight/ultra": "cn-pico/tlo", "cn/ultra": "cn-pico/tlo",
	"cryptonight-talleo": "cn-pico/tlo", "cn-talleo": "cn-pico/tlo", "cryptonight_talleo": "cn-pico/tlo", "cn_talleo": "cn-pico/tlo",
	"cryptonight/upx2": "cn/upx2", "cn-extremelite/upx2": "cn/upx2", "cryptonight-upx/2": "cn/upx2",
	"randomx/0": "rx/0", "randomx/test": "rx/0", "rx/test": "rx/0", "randomx": "rx/0", "rx": "rx/0",
	"randomx/wow": "rx/wow", "randomwow": "rx/wow",
	"randomx/arq": "rx/arq", "randomarq": "rx/arq",
	"randomx/graft": "rx/graft", "randomgraft": "rx/graft",
	"randomx/sfx": "rx/sfx", "randomsfx": "rx/sfx",
	"randomx/keva": "rx/keva", "randomkeva": "rx/keva",
	"chukwa": "argon2/chukwa", "chukwav2": "argon2/chukwav2", "argon2/wrkz": "argon2/ninja",
	"kawpow/rvn":     "kawpow",
	"ghostrider/rtm": "ghostrider", "gr": "ghostrider",
}

// otherVersionAlgos are algorithm names some XMRig versions (older or newer
// than the list in Metadata) accept; they pass validation without a device
// check.
var otherVersionAlgos = map[string]bool{
	"cn/gpu": true, "astrobwt/v2": true, "rx/yada": true, "rx/xeq": true,
	"rx/xla": true, "panthera": true, "flex": true, "cn-pico/0": true,
}

// lookupAlgo returns the canonical name and table entry (nil for names only
// other versions know) of an algorithm name, or ok=false.
func lookupAlgo(name string) (canonical string, devices []string, ok bool) {
	n := strings.ToLower(name)
	if c, found := algoAliases[n]; found {
		n = c
	}
	for i := range algorithms {
		if algorithms[i].Name == n {
			return n, algorithms[i].Devices, true
		}
	}
	if otherVersionAlgos[n] {
		return n, nil, true
	}
	return "", nil, false
}
