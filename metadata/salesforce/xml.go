package salesforce

import "encoding/xml"

// The Metadata API's types, as far as the package uses them. Each is an
// XML sequence in the schema: the struct fields below follow the
// schema's order (fullName first, the rest as metadata.wsdl lists them),
// which encoding/xml keeps when it writes. The tests hold every file
// written against the schema's own element lists.

const metadataNS = "http://soap.sforce.com/2006/04/metadata"

type pkg struct {
	XMLName xml.Name  `xml:"Package"`
	NS      string    `xml:"xmlns,attr"`
	Types   []pkgType `xml:"types"`
	Version string    `xml:"version"`
}

type pkgType struct {
	Members []string `xml:"members"`
	Name    string   `xml:"name"`
}

type dataSource struct {
	XMLName             xml.Name `xml:"ExternalDataSource"`
	NS                  string   `xml:"xmlns,attr"`
	CustomConfiguration string   `xml:"customConfiguration"`
	CustomHTTPHeaders   []header `xml:"customHttpHeaders,omitempty"`
	Endpoint            string   `xml:"endpoint"`
	IsWritable          bool     `xml:"isWritable"`
	Label               string   `xml:"label"`
	PrincipalType       string   `xml:"principalType"`
	Protocol            string   `xml:"protocol"`
	Type                string   `xml:"type"`
}

type header struct {
	HeaderFieldName  string `xml:"headerFieldName"`
	HeaderFieldValue string `xml:"headerFieldValue"`
	IsActive         bool   `xml:"isActive"`
}

// namedCredential is both forms: the legacy one (endpoint, principal and
// protocol in it) and the SecuredEndpoint one (the URL and the external
// credential as parameters).
type namedCredential struct {
	XMLName                 xml.Name      `xml:"NamedCredential"`
	NS                      string        `xml:"xmlns,attr"`
	AllowMergeFieldsInBody  bool          `xml:"allowMergeFieldsInBody"`
	AllowMergeFieldsInHeads bool          `xml:"allowMergeFieldsInHeader"`
	CalloutStatus           string        `xml:"calloutStatus,omitempty"`
	Description             string        `xml:"description,omitempty"`
	Endpoint                string        `xml:"endpoint,omitempty"`
	GenerateAuthHeader      bool          `xml:"generateAuthorizationHeader"`
	Label                   string        `xml:"label"`
	Parameters              []ncParameter `xml:"namedCredentialParameters,omitempty"`
	NamedCredentialType     string        `xml:"namedCredentialType,omitempty"`
	PrincipalType           string        `xml:"principalType,omitempty"`
	Protocol                string        `xml:"protocol,omitempty"`
	Username                string        `xml:"username,omitempty"`
}

type ncParameter struct {
	ExternalCredential string `xml:"externalCredential,omitempty"`
	ParameterName      string `xml:"parameterName"`
	ParameterType      string `xml:"parameterType"`
	ParameterValue     string `xml:"parameterValue,omitempty"`
	SequenceNumber     int    `xml:"sequenceNumber,omitempty"`
}

type externalCredential struct {
	XMLName                xml.Name      `xml:"ExternalCredential"`
	NS                     string        `xml:"xmlns,attr"`
	AuthenticationProtocol string        `xml:"authenticationProtocol"`
	Description            string        `xml:"description,omitempty"`
	Parameters             []ecParameter `xml:"externalCredentialParameters"`
	Label                  string        `xml:"label"`
}

type ecParameter struct {
	Description    string `xml:"description,omitempty"`
	ParameterGroup string `xml:"parameterGroup,omitempty"`
	ParameterName  string `xml:"parameterName"`
	ParameterType  string `xml:"parameterType"`
	ParameterValue string `xml:"parameterValue,omitempty"`
	SequenceNumber int    `xml:"sequenceNumber,omitempty"`
}

// customObject is an external object, with its fields inside (the
// metadata format's objects/NAME__x.object).
type customObject struct {
	XMLName            xml.Name      `xml:"CustomObject"`
	NS                 string        `xml:"xmlns,attr,omitempty"`
	DeploymentStatus   string        `xml:"deploymentStatus,omitempty"`
	Description        string        `xml:"description,omitempty"`
	EnableReports      *bool         `xml:"enableReports"`
	EnableSearch       *bool         `xml:"enableSearch"`
	ExternalDataSource string        `xml:"externalDataSource,omitempty"`
	ExternalName       string        `xml:"externalName,omitempty"`
	Fields             []customField `xml:"fields"`
	Label              string        `xml:"label,omitempty"`
	PluralLabel        string        `xml:"pluralLabel,omitempty"`
}

type customField struct {
	FullName              string `xml:"fullName"`
	DefaultValue          string `xml:"defaultValue,omitempty"`
	Description           string `xml:"description,omitempty"`
	ExternalDeveloperName string `xml:"externalDeveloperName,omitempty"`
	ExternalID            *bool  `xml:"externalId"`
	IsNameField           *bool  `xml:"isNameField"`
	Label                 string `xml:"label,omitempty"`
	Length                *int   `xml:"length"`
	Precision             *int   `xml:"precision"`
	ReferenceTargetField  string `xml:"referenceTargetField,omitempty"`
	ReferenceTo           string `xml:"referenceTo,omitempty"`
	RelationshipLabel     string `xml:"relationshipLabel,omitempty"`
	RelationshipName      string `xml:"relationshipName,omitempty"`
	Required              *bool  `xml:"required"`
	Scale                 *int   `xml:"scale"`
	Type                  string `xml:"type,omitempty"`
	Unique                *bool  `xml:"unique"`
	VisibleLines          *int   `xml:"visibleLines"`
}

type permissionSet struct {
	XMLName               xml.Name           `xml:"PermissionSet"`
	NS                    string             `xml:"xmlns,attr"`
	Description           string             `xml:"description,omitempty"`
	PrincipalAccesses     []principalAccess  `xml:"externalCredentialPrincipalAccesses,omitempty"`
	DataSourceAccesses    []dataSourceAccess `xml:"externalDataSourceAccesses,omitempty"`
	FieldPermissions      []fieldPermission  `xml:"fieldPermissions,omitempty"`
	HasActivationRequired bool               `xml:"hasActivationRequired"`
	Label                 string             `xml:"label"`
	ObjectPermissions     []objectPermission `xml:"objectPermissions,omitempty"`
}

type principalAccess struct {
	Enabled   bool   `xml:"enabled"`
	Principal string `xml:"externalCredentialPrincipal"`
}

type dataSourceAccess struct {
	Enabled    bool   `xml:"enabled"`
	DataSource string `xml:"externalDataSource"`
}

type fieldPermission struct {
	Editable bool   `xml:"editable"`
	Field    string `xml:"field"`
	Readable bool   `xml:"readable"`
}

type objectPermission struct {
	AllowCreate      bool   `xml:"allowCreate"`
	AllowDelete      bool   `xml:"allowDelete"`
	AllowEdit        bool   `xml:"allowEdit"`
	AllowRead        bool   `xml:"allowRead"`
	ModifyAllRecords bool   `xml:"modifyAllRecords"`
	Object           string `xml:"object"`
	ViewAllRecords   bool   `xml:"viewAllRecords"`
}

func ptr[T any](v T) *T { return &v }

// reportType is a custom report type: its primary object, an object
// joined to it through a relationship, and the fields offered, a section
// per object.
type reportType struct {
	XMLName     xml.Name              `xml:"ReportType"`
	NS          string                `xml:"xmlns,attr,omitempty"`
	BaseObject  string                `xml:"baseObject"`
	Category    string                `xml:"category"`
	Deployed    bool                  `xml:"deployed"`
	Description string                `xml:"description,omitempty"`
	Join        *objectRelationship   `xml:"join,omitempty"`
	Label       string                `xml:"label"`
	Sections    []reportLayoutSection `xml:"sections"`
}

type objectRelationship struct {
	OuterJoin    bool   `xml:"outerJoin"`
	Relationship string `xml:"relationship"`
}

type reportLayoutSection struct {
	Columns     []reportTypeColumn `xml:"columns"`
	MasterLabel string             `xml:"masterLabel"`
}

type reportTypeColumn struct {
	CheckedByDefault bool   `xml:"checkedByDefault"`
	Field            string `xml:"field"`
	Table            string `xml:"table"`
}
