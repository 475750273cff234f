package address_test

import (
	"errors"
	"fmt"

	"github.com/mailprobe/mailprobe/engine/address"
)

func ExampleParse() {
	a, err := address.Parse("  Jo.Doe+news@GoogleMail.com ")
	if err != nil {
		panic(err)
	}
	fmt.Println(a.Username, a.Domain, a.Normalized)

	_, err = address.Parse("Jo Doe <jo@example.com>")
	var se *address.SyntaxError
	if errors.As(err, &se) {
		fmt.Println(se.Reason)
	}
	// Output:
	// Jo.Doe+news googlemail.com jodoe@gmail.com
	// display-name
}

func ExampleSuggest() {
	fmt.Println(address.Suggest("gmial.com"))
	fmt.Println(address.Suggest("hotmail.ca"))
	// Output:
	// gmail.com true
	//  false
}
