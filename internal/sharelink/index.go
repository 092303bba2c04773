package sharelink

// index is the links in memory, by id, token hash, name and user.
type index struct {
	byID   map[string]*Link
	byHash map[string]*Link
	byName map[string]*Link // the live link of each name, if any, else the last seen
	byUser map[string]map[string]*Link
}

func newIndex() index {
	return index{byID: map[string]*Link{}, byHash: map[string]*Link{}, byName: map[string]*Link{},
		byUser: map[string]map[string]*Link{}}
}

// add indexes l; live says whether it is unexpired, which decides whose a
// name is when an expired link and a live one share it.
func (x index) add(l *Link, live bool) {
	x.byID[l.ID] = l
	if l.TokenHash != "" {
		x.byHash[l.TokenHash] = l
	}
	if l.Name != "" {
		if _, taken := x.byName[l.Name]; !taken || live {
			x.byName[l.Name] = l
		}
	}
	u := x.byUser[l.User]
	if u == nil {
		u = map[string]*Link{}
		x.byUser[l.User] = u
	}
	u[l.ID] = l
}

// remove forgets l.
func (x index) remove(l *Link) {
	delete(x.byID, l.ID)
	if x.byHash[l.TokenHash] == l {
		delete(x.byHash, l.TokenHash)
	}
	if x.byName[l.Name] == l {
		delete(x.byName, l.Name)
	}
	if u := x.byUser[l.User]; u != nil {
		delete(u, l.ID)
		if len(u) == 0 {
			delete(x.byUser, l.User)
		}
	}
}
