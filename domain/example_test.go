package domain_test

import (
	"fmt"

	"xling/domain"
)

func ExampleParseLang() {
	for _, s := range []string{"sw", "xx", "iw"} {
		l, err := domain.ParseLang(s)
		fmt.Println(l, err)
	}
	// Output:
	// sw <nil>
	//  unknown language code "xx": not an ISO 639-1 code
	//  deprecated language code "iw": use "he"
}
