package lexical_test

import (
	"fmt"

	"xling/tokenizer/lexical"
)

func ExampleTokenizer_Terms() {
	tok := lexical.New()
	fmt.Println(tok.Terms("Der Bär schläft."))
	fmt.Println(tok.Terms("东京大学"))
	// Output:
	// [der bär schläft]
	// [东京 京大 大学]
}
