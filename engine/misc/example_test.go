package misc_test

import (
	"fmt"

	"github.com/mailprobe/mailprobe/engine/misc"
)

func ExampleChecker() {
	c := misc.New()
	fmt.Println(c.IsDisposable("inbox.mailinator.com"), c.IsRoleAccount("Support"), c.IsFree("gmail.com"))
	// Output: true true true
}
