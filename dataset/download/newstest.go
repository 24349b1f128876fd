package download

// opusMTCommit is the commit of Helsinki-NLP/OPUS-MT-testsets the newstest files are derived from (the
// Tatoeba and FLORES entries of Manifest are pinned to it too).
const opusMTCommit = "ac0f19c0be3cb4e0d9450fcb2d7a9847c4bdd180"

// newstestSet is one WMT test set of an English–X pair: its name (the upstream file stem) and the SHA-256
// of its English and X files.
type newstestSet struct {
	name, eng, x string
}

// newstestFiles lists bitext/newstest/eng-X.{eng,X}: the WMT news test sets of Helsinki-NLP/OPUS-MT-testsets
// under testsets/eng-X/ whose names start with "news", every set of a pair concatenated in name order,
// without the lines where either side is empty. The sets and their digests are those of `git ls-tree` and
// the blobs at the pinned commit; deriving from them reproduced the digests DATA.md lists.
func newstestFiles() []File {
	pairs := []struct {
		x        string
		eng, sum string // digests of the derived files
		sets     []newstestSet
	}{
		{"deu", "f4593f9b9fef82b9c6e9bbb686d2d0312d2196073eefc771445b2f54a9f6af68", "4e7fadcb00de21dc340b06ba69092b090e9ed6eccdb79b6f5a4e5628e8fa7cfc", []newstestSet{
			{"news-test2008", "134e1140848bb0d05e774dbe35b8b69602faf401250c03dbb437bdbe38c37b6f", "6d86c805e6cd008c11143816daac272fdf5a3afea816983c43005717d6fe3ae2"},
			{"newssyscomb2009", "b734a44294fa3b23a2491cd9a2c59fb5eb71332ace70b2c9039978863dd0e43d", "da74e91ec9f155a958a9cfcdb8e4291162b31b589e09306c40528aaf684d2fec"},
			{"newstest2009", "3fc92718e7b994ca0a5dc57e63b68d5c80244a56e5bb1cec11d2e8dd10b3ff3c", "41f7d4a766a99f78646474dbd21af0dd0285a5dad5c48d1b627334c11a1771d9"},
			{"newstest2010", "1ebece77e333965cbc66fde735a6f17e026b4d6690f4f7fdaba839b7bdadac3b", "4f4b02d3abe150ca47a745d138d90f688edb20dd2d2fedca16aa05fd1e2018b1"},
			{"newstest2011", "d387569743c0fa9097df4d4e2c1dd9e6ba9ef3cee6e0f473da3204c887dcf8fd", "033bc05659f61c5e51170973267d21e23a9a968557b866f3842c92e416a60e1b"},
			{"newstest2012", "f9e51f85c4948033fc7d77ef427f4d88908a8dd3f778970f62d0baafac3ff97e", "946b9587b79271b0f3ce9cc8c0e5b310e3021ef598e1ba5dc2a24fef8960de30"},
			{"newstest2013", "ace268a1d9724ca76f6d8e5c720ffdc08f01bdce45630ed8b269dc7918e1c16e", "d7ea35ab91ff3709e03ad9cb6bf5b4f2cc775cd2d72efd5254c4aec5e69663ca"},
			{"newstest2014", "7294bccf2879a97b3706b95c9595f1459617a8ee7130d5d8581c910e69736971", "ae5d110486bc33d7175e9e28c7d0051eb3e5fcd2166dd93371089852c091a20e"},
			{"newstest2015", "422fbb5a274c7aae1a0890381cd4516307ca7bc957604220d4871a91664121e5", "796cce52ab248469187b60f60715a738a0b92944dc010a69a0083de7fae1b513"},
			{"newstest2016", "cd5c112a358d9c99b9557eb358e16d7a94f8fa93ad7aa61bf5f1141f2e1f8854", "738ca1ced4099937127be3208ba70d46e7a93550cd57cfd645f3d35e0e52a254"},
			{"newstest2017", "11adaec47477928dab9cb3fc9279d99dbbbfec7161f3abf6fddd759668fcd703", "675e4f7e6045dacf56507e29b24106d771a571e0eb58d822806b086cdcf892f4"},
			{"newstest2018", "721b207ca2b4e4689f978e17ee5edb0988d7c901acd651fd666bcd9c1950233b", "c53059fc440b3771aef2a83b15fddd8d2b3490c55b552dcae245f9a2df126c9c"},
			{"newstest2019", "3a62f94f5c42a395d4452ec890ca45afc75866b5b4b1d493429433cfe8469fe9", "ba6b9c811a564c7747bdc92de2b31513bc608fd9c7c24df85b654e38b83bca81"},
			{"newstest2020", "1a21e5c163df57b7755e28d32211c1f74b7e4eeb1768340dc49a206574a6481f", "af6130ca5716921733d3cad61f39c9edd694572deb0fdfc9eae4262ea19d560a"},
			{"newstestB2020", "1a21e5c163df57b7755e28d32211c1f74b7e4eeb1768340dc49a206574a6481f", "0a46ff30c39651f7916d4df557b0bd799715851e35e136661ee65c02e6b0b6a0"},
		}},
		{"hin", "f5dc3b3eb32c7b587bedb27c10628a487eb21aa590023445e19e8e4671bed1c0", "4f124affab1050a39dd628eb6cb85c801db5215b5a3962566f183b204394785f", []newstestSet{
			{"newstest2014", "f5dc3b3eb32c7b587bedb27c10628a487eb21aa590023445e19e8e4671bed1c0", "4f124affab1050a39dd628eb6cb85c801db5215b5a3962566f183b204394785f"},
		}},
		{"rus", "679967bfd4f182997a6c22b27f22cd4a4eeb7d6f8d1e97e44caff76408e1b96c", "0e574f10a606e38a881aed0506c82686a9c85c20caf98ead371993e2bd18455e", []newstestSet{
			{"newstest2012", "f9e51f85c4948033fc7d77ef427f4d88908a8dd3f778970f62d0baafac3ff97e", "ee30182ea9ec2623c5c18def46f45c154fe0c0d6446be3477de15de2f2fe0920"},
			{"newstest2013", "ace268a1d9724ca76f6d8e5c720ffdc08f01bdce45630ed8b269dc7918e1c16e", "34d8972566d8949407dfc255fd63171157bb639c6294adc36e234f5af039e362"},
			{"newstest2014", "22683e7f34f0bd33d22b15eec61dd1997aff2b30ac5a0a2060d72dd132ee9b33", "bef8445f416a958493bf25132e466c34aacc7784cc586ecd4e66bf74ee8127dd"},
			{"newstest2015", "e0706eec178a86e1e7a8ae44c6bb854470cd8f2446764fccf9565f46743ea1f0", "1b5d745aae214a38ff6096a7bfb41c3231e00ec36ec4bc056b938815b6dd1bdb"},
			{"newstest2016", "5bf673ee6e0924f3421219423467e02af4982161fff67085964041881db03b92", "b60d8154426cb804b52dc829d0ad97db8da29927ab9f6e9d79e6f5bb3fc8d138"},
			{"newstest2017", "d3ad991b891073ed09e8bda8d3144efc4aa590ff992af45966c3cae08f77cb35", "186d9b116b9ce59dbaae8d5265fb674dcbfc59458f7b04d81b5aca6590febc5f"},
			{"newstest2018", "62f747ccaf9dd964acc8f501e1a8c984e3acf9606b4e57a93cd2a42c89352a5b", "bd4ab42cdc36b9b3421dcfe6e5474cc3c61710aa2fc7d39155bd553f8749468a"},
			{"newstest2019", "3a62f94f5c42a395d4452ec890ca45afc75866b5b4b1d493429433cfe8469fe9", "efe7f49f4a79c1a84e53ec226cca51be058183a68bac38e6d7603386c9bd7df0"},
			{"newstest2020", "11c8f366be5971e0af8fc9bb45dd5b88f46245466b9bc9d549a71034857a4516", "a7fe90e2f8bb68ccdd1efca0e8edde42e395bb1afa14a8d0e60ad246da5abdc5"},
		}},
		{"spa", "a7e9b4612fe4578d6be2ce77c5c7c95dc3f908f6a14478790303bdf4011cfc44", "6e8c327b0cb5bed819d118e17b8006d138be902e1f9f20e1ede13b9ffa22f7c5", []newstestSet{
			{"news-test2008", "134e1140848bb0d05e774dbe35b8b69602faf401250c03dbb437bdbe38c37b6f", "8480a85f47c652fac2f6d7acd7d0f7625ec13dd764397591c0a1d27e24815d0b"},
			{"newssyscomb2009", "b734a44294fa3b23a2491cd9a2c59fb5eb71332ace70b2c9039978863dd0e43d", "caa8f6a3cb9b1a0e8d00f566e355af2e120734f4cb7a1be906d5a199c68382ed"},
			{"newstest2009", "3fc92718e7b994ca0a5dc57e63b68d5c80244a56e5bb1cec11d2e8dd10b3ff3c", "979091c514727403aaebcff885f7b67f39a8ecc9f64ce625fec2b890d89db9bc"},
			{"newstest2010", "1ebece77e333965cbc66fde735a6f17e026b4d6690f4f7fdaba839b7bdadac3b", "f746037c558529dce0bd23ac73fdb4361cefaf2df482010fc0ae29ff389dacce"},
			{"newstest2011", "d387569743c0fa9097df4d4e2c1dd9e6ba9ef3cee6e0f473da3204c887dcf8fd", "2cfc4007fa812891c6e89ccf0ee3b3c0d2fbfb422f54a3996cc60296224794b1"},
			{"newstest2012", "f9e51f85c4948033fc7d77ef427f4d88908a8dd3f778970f62d0baafac3ff97e", "399bdda6a530fb1d0d4df28bcb6af055c607d0f0ab64894ac9d70b8047a91c7c"},
			{"newstest2013", "ace268a1d9724ca76f6d8e5c720ffdc08f01bdce45630ed8b269dc7918e1c16e", "d188693be1ca37a4d3e70bea6edafe6fa9b779b02685fa7ed8d3c51e07b5f9d9"},
		}},
		{"tur", "e12204dd079a9e5a0abcbc1a03e26f6476c2e7d7fb274546295c826542eb81f3", "d6c972c91443b83bf4d16619e9dd1f6b832240ef471d3a2bcbeda38cdcfb58c0", []newstestSet{
			{"newstest2016", "d3d06b4fdd885998f8e9fc657a980cee61ad282b223edde0601f9339bbef41ab", "9f3fd0b40b3ddcce1d894779ce25a9886092b3c08e47f1572a45000b9c4027c6"},
			{"newstest2017", "a059693276d5fe25912ee9bd1520225a0889e47764a6d4ff351c92aa167e6653", "9b31fb006f11e6ff3209788647ddd12aefb3119572641d059df43ebe697a7f6b"},
			{"newstest2018", "b3f2c457cfaac57b6611be5828ef2836075750aad864d7004d1691afba2474a4", "f0142c9476e4f9dad3a682b5ed1cb6ae8b4c9a61e79b4fa9d99c040317f3047d"},
		}},
		{"zho", "9987d4448e411063d8b284dd532ea17dcfe60f3584dbd1b5ba92adaf1f8126d4", "657f0fbb142a6e526ac2b4ce57a598e06c0392d637d5911250fa29ef3f21152e", []newstestSet{
			{"newstest2017", "58c844d4e3c0baf7dd9b470868aa0f88ba3951a74be2fe98f7e11e19df622351", "cdb2e71249ad0f39796d13e16723f6d2c4f71c6f3724806e1f46e7810f7355c0"},
			{"newstest2018", "70fbc6b34f64aff7ece36343d05596d52733ac64339d4b04a6ce24382520b275", "e0eec6040f78169cc9ec9d4a2fa88fbb295be987a0bcb2370bf3f3068c80d5fd"},
			{"newstest2019", "3a62f94f5c42a395d4452ec890ca45afc75866b5b4b1d493429433cfe8469fe9", "2d959e3c6ab3cfab2b8974ad739da45366fae157f24299d3b901c6869960c65b"},
			{"newstest2020", "1a21e5c163df57b7755e28d32211c1f74b7e4eeb1768340dc49a206574a6481f", "251d68b38abaa608e3fc6b933c93b1969bb19db22f7a16be25718be72c80d4ff"},
			{"newstestB2020", "1a21e5c163df57b7755e28d32211c1f74b7e4eeb1768340dc49a206574a6481f", "c217423053336f640dea12ab07b8c8f9ca309501e4c7a56736a3a024e98cf27e"},
		}},
	}
	var files []File
	for _, p := range pairs {
		b := &Bitext{}
		for _, s := range p.sets {
			dir := "testsets/eng-" + p.x + "/" + s.name + "."
			b.Parts = append(b.Parts, [2]Part{{Source: dir + "eng", SHA256: s.eng}, {Source: dir + p.x, SHA256: s.x}})
		}
		stem := "bitext/newstest/eng-" + p.x + "."
		files = append(files,
			File{Path: stem + "eng", Repo: "Helsinki-NLP/OPUS-MT-testsets", Commit: opusMTCommit, SHA256: p.eng, Bitext: b, Side: 0},
			File{Path: stem + p.x, Repo: "Helsinki-NLP/OPUS-MT-testsets", Commit: opusMTCommit, SHA256: p.sum, Bitext: b, Side: 1})
	}
	return files
}
